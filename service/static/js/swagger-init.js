// Starts Swagger UI on /schema (see service/security.py: the page has no inline script).
// A staff member logged in by cookie sends the CSRF token with each request, as the API asks.
(() => {
  const container = document.getElementById("swagger-container");
  if (!container || !window.SwaggerUIBundle) return;
  const { schemaUrl, csrfCookie, csrfHeader } = container.dataset;
  const cookie = (name) =>
    document.cookie
      .split("; ")
      .find((pair) => pair.startsWith(`${name}=`))
      ?.slice(name.length + 1);
  window.ui = window.SwaggerUIBundle({
    url: schemaUrl,
    dom_id: "#swagger-container",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    requestInterceptor: (request) => {
      const token = csrfCookie && cookie(csrfCookie);
      if (token) request.headers[csrfHeader] = token;
      return request;
    },
  });
})();
