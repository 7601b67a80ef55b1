// The directory's floor plan keeps a readable size (see .floorplan-scroll in site.css): its
// own width, from data-plan-width, becomes --plan-width. Set through the CSS object model,
// which the page's policy allows, where a style attribute would be refused.
for (const plan of document.querySelectorAll("[data-plan-width]")) {
  const width = Number.parseFloat(plan.dataset.planWidth);
  if (width > 0) plan.style.setProperty("--plan-width", `${width}px`);
}
