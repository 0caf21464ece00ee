// Copy buttons of the portal and the setup page: <button data-copy="ID"> copies the value of the field ID
// and says so in the element marked data-copy-status="ID".
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const status = document.querySelector(`[data-copy-status="${button.dataset.copy}"]`);
  if (!field) return;
  const say = (text) => { if (status) status.textContent = text; };
  const fallback = () => {
    field.focus();
    field.select();
    say("Selected: press Ctrl+C (⌘C on a Mac) to copy.");
  };
  if (!navigator.clipboard || !window.isSecureContext) {
    fallback();
    return;
  }
  navigator.clipboard.writeText(field.value).then(() => say("Copied."), fallback);
});
