// A confirmation that waits for an answer: a modal <dialog> (focus kept inside, Escape cancels,
// announced as a dialog), not a button that re-arms itself after a few seconds.
import { $ } from "./dom.js";

/**
 * await confirmAction({title, text, confirmLabel}) -> true when confirmed, false when cancelled
 * (Cancel, Escape). Uses the page's #confirm-dialog (templates/parties/room.html).
 */
export function confirmAction({ title, text, confirmLabel }) {
  const dialog = $("#confirm-dialog");
  $("#confirm-title", dialog).textContent = title;
  $("#confirm-text", dialog).textContent = text;
  $("#confirm-ok", dialog).textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.showModal();
    $("#confirm-cancel", dialog).focus(); // the safe answer is the default one
  });
}
