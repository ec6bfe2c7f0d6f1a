// The dialog that reports a message to the moderators.
import { post } from "../api";
import { openDialog } from "../dialog";
import { describeAny } from "../errors";
import { h } from "../h";
import type { Message } from "../types";
import { button, errorBox, field } from "../views/common";

export function openReportDialog(message: Message, onSent: () => void): void {
  const reason = h("textarea", { rows: "3", maxlength: "500", required: true });
  const dialogErrors = errorBox();
  const send = button("Send report", { class: "primary" });
  const cancel = button("Cancel");
  const handle = openDialog({
    title: "Report message",
    content: [
      h("p", { class: "hint" }, `Moderators will look at this message from ${message.author.display_name}. They will not tell them who reported it.`),
      h("blockquote", { class: "quote" }, message.body),
      field("Reason", reason, "What is wrong with it? Moderators see this."),
      dialogErrors.node,
      h("div", { class: "dialog-actions" }, send, cancel),
    ],
  });
  cancel.addEventListener("click", () => handle.close());
  send.addEventListener("click", async () => {
    dialogErrors.clear();
    if (!reason.value.trim()) {
      dialogErrors.show("Reason: say briefly what is wrong with the message.");
      reason.focus();
      return;
    }
    send.disabled = true;
    try {
      await post(`/api/messages/${message.id}/reports`, { reason: reason.value.trim() });
      handle.close();
      onSent();
    } catch (err) {
      dialogErrors.show(describeAny(err));
      send.disabled = false;
    }
  });
}
