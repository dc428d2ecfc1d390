// The API key page: confirm before a new key replaces the current one; copy a new key to the clipboard.
// A file of its own, not an inline script: the Content-Security-Policy allows scripts from the panel only.
(function () {
  var form = document.getElementById("new-key-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }
  var button = document.getElementById("copy-key");
  if (button && navigator.clipboard) {
    button.addEventListener("click", function () {
      var key = document.getElementById("new-key").textContent;
      navigator.clipboard.writeText(key).then(function () { button.textContent = button.dataset.copied; });
    });
  } else if (button) {
    button.hidden = true;  // no clipboard (plain http on another host): select the key by hand
  }
})();
