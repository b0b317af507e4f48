"use client";

import { KeyRound, TriangleAlert } from "lucide-react";
import { Button } from "../ui/button";
import { CopyButton } from "../ui/copy-button";
import { Dialog } from "../ui/overlay";

export interface RevealedSecret {
  secret: string;
  url: string;
  /** `created`: a new endpoint; `rotated`: a new secret for an existing one (the old one still signs for a while). */
  kind: "created" | "rotated";
}

/** The only time a signing secret is shown: after create and after rotate. */
export function SecretDialog({ revealed, onClose }: { revealed: RevealedSecret | null; onClose(): void }) {
  return (
    <Dialog
      open={revealed !== null}
      onClose={onClose}
      title={revealed?.kind === "rotated" ? "New signing secret" : "Endpoint created"}
      description={revealed ? <span className="font-mono text-xs break-all">{revealed.url}</span> : null}
      footer={
        <Button onClick={onClose} data-testid="secret-done">
          I have saved it
        </Button>
      }
    >
      {revealed ? (
        <div className="space-y-4" data-testid="secret-reveal">
          <div>
            <p className="mb-1.5 flex items-center gap-1.5 text-xs font-medium text-muted-foreground">
              <KeyRound className="size-3.5" aria-hidden /> Signing secret
            </p>
            <div className="flex items-center gap-2 rounded-lg border border-border bg-muted/60 py-2 pr-2 pl-3">
              <code className="min-w-0 flex-1 font-mono text-[13px] break-all select-all" data-testid="secret-value">
                {revealed.secret}
              </code>
              <CopyButton value={revealed.secret} label="Copy secret" className="size-8 border border-border bg-card" />
            </div>
          </div>
          <div className="flex gap-2.5 rounded-lg border border-amber-200 bg-amber-50 px-3.5 py-2.5 text-sm text-amber-900 dark:border-amber-500/25 dark:bg-amber-500/10 dark:text-amber-200">
            <TriangleAlert className="mt-0.5 size-4 shrink-0" aria-hidden />
            <p>
              <span className="font-medium">You will not see this secret again.</span> Store it with the receiver now; it is kept encrypted and cannot be shown later, only
              rotated.
            </p>
          </div>
          {revealed.kind === "rotated" ? (
            <p className="text-sm text-muted-foreground" data-testid="rotation-grace">
              The previous secret keeps signing for <span className="font-medium text-foreground">24 hours</span>: every delivery carries both signatures in{" "}
              <code className="font-mono text-xs">webhook-signature</code>, so the receiver can switch to the new secret at any time in that window without rejecting a
              single delivery.
            </p>
          ) : (
            <p className="text-sm text-muted-foreground">
              Receivers verify <code className="font-mono text-xs">webhook-signature</code> with it (Standard Webhooks: HMAC-SHA256 over{" "}
              <code className="font-mono text-xs">id.timestamp.body</code>); see <span className="font-medium text-foreground">docs/webhooks.md</span>.
            </p>
          )}
        </div>
      ) : null}
    </Dialog>
  );
}
