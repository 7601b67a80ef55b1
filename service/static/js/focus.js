// Moves the keyboard focus to the first element marked data-autofocus once the page is read:
// a form's error summary or a notice, so that screen readers announce it first and keyboard
// users start from it. (A static file: the pages allow no inline script.)
document.querySelector("[data-autofocus]")?.focus();
