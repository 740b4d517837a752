// The console works without this script; with it, the queue's filters
// apply as they change, and a decision that cannot be undone (deny,
// erase, revoke) asks once more before it is posted.
(function () {
  "use strict";
  var filters = document.querySelector("form.filters");
  if (filters) {
    filters.addEventListener("change", function () { filters.submit(); });
  }
  document.addEventListener("submit", function (e) {
    var f = e.target;
    var action = f.querySelector("input[name=action]");
    var erase = f.querySelector("input[name=erase]");
    var ask = "";
    if (action && action.value === "deny") { ask = "Deny this request? The requester is emailed the reason."; }
    if (action && action.value === "revoke") { ask = "Revoke these credentials? The controller's calls are refused from now on."; }
    if (erase && erase.checked) { ask = "Erase what is not needed? This cannot be undone."; }
    if (ask && !window.confirm(ask)) { e.preventDefault(); }
  });
})();
