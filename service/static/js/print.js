// Buttons marked data-print open the browser's print dialogue (the ticket, the name badges).
// A static file: the pages allow no inline script or event attributes.
for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}
