import { useEffect, useRef, useState, type FormEvent } from 'react';

export interface ConfirmDialogProps {
  title: string;
  onConfirm: (reason: string) => void;
  onClose: () => void;
}

/** A modal `<dialog>` (focus stays inside, Escape closes it) asking for the reason the audit records. */
export function ConfirmDialog({ title, onConfirm, onClose }: ConfirmDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onConfirm(reason.trim());
  };
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" onClose={onClose}>
      <form onSubmit={submit}>
        <h3 id="confirm-title">{title}</h3>
        <label htmlFor="confirm-reason">Reason</label>
        <input id="confirm-reason" required value={reason} onChange={(event) => setReason(event.target.value)} />
        <div className="actions">
          <button type="submit">Confirm</button>
          <button type="button" onClick={() => dialog.current?.close()}>
            Back
          </button>
        </div>
      </form>
    </dialog>
  );
}
