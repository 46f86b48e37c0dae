// Renders /openapi.json with the bundled Swagger UI (no CDN: works offline).
window.addEventListener("load", () => {
  window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#api",
    deepLinking: true,
    tryItOutEnabled: false,
    // The page's title says when the operations are on screen (and how many).
    onComplete: () => {
      const count = document.querySelectorAll(".opblock").length;
      document.title = `posbridge API (${count} operations)`;
    },
  });
});
