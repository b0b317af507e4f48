import { expect, test } from "@playwright/test";
import { admin } from "./fixtures";
import { shot, signIn } from "./helpers";

const auth = { Authorization: `Bearer ${admin.apiKey}` };

test("dead letters: a failing probe is dead-lettered, inspected, redriven once it can succeed, and counted on Queues", async ({ page, request }) => {
  test.setTimeout(120_000);

  // Queues: the diagnostics subscription, live, with its processed count before anything happens.
  await signIn(page, "/queues", admin.email, admin.password);
  await expect(page.getByRole("heading", { name: "Queues", level: 1 })).toBeVisible();
  await expect(page.getByTestId("queues-status")).toHaveAttribute("data-status", "live", { timeout: 20_000 });
  const diagnostics = page.locator("[data-testid=queue-row][data-queue=diagnostics]");
  await expect(diagnostics).toBeVisible();
  await expect(diagnostics.getByTestId("queue-running")).toHaveText("running", { timeout: 30_000 });
  const processedBefore = Number((await diagnostics.getByTestId("queue-processed").innerText()).replace(/\D/g, ""));

  // Pausing stops the live feed; resuming restarts it.
  await page.getByTestId("refresh-pause").click();
  await expect(page.getByTestId("queues-status")).toHaveAttribute("data-status", "paused");
  await page.getByTestId("refresh-pause").click();
  await expect(page.getByTestId("queues-status")).toHaveAttribute("data-status", "live", { timeout: 20_000 });

  // A probe that fails every attempt for the next 8 s, published like any client would.
  const failUntil = Date.now() + 8_000;
  const published = await request.post("/api/v1/events", {
    headers: auth,
    data: { type: "diagnostics.probe", data: { note: "e2e dead letter", failUntil: new Date(failUntil).toISOString() } },
  });
  expect(published.status(), await published.text()).toBe(202);
  const probe = (await published.json()) as { id: string; position: number };

  // It exhausts its retries (3 attempts within ~2 s) and lands in the dead letters, under ProbeFailure.
  await page.getByRole("link", { name: "Dead letters", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Dead letters", level: 1 })).toBeVisible();
  const row = page.locator(`[data-testid=dead-letter-row][data-event-id="${probe.id}"]`);
  await expect(row).toBeVisible({ timeout: 20_000 });
  await expect(row).toHaveAttribute("data-error-type", "ProbeFailure");
  const group = page.locator("[data-testid=error-group][data-error-type=ProbeFailure]");
  await expect(group).toBeVisible();
  await expect(group.getByTestId("error-group-subscription").filter({ hasText: "diagnostics" })).toBeVisible();

  // Pick the group instead of typing names: the list and URL follow.
  await group.getByTestId("error-group-subscription").filter({ hasText: "diagnostics" }).click();
  await expect(page).toHaveURL(/subscription=diagnostics/);
  await expect(page).toHaveURL(/errorType=ProbeFailure/);
  await expect(row).toBeVisible();
  await shot(page, "dead-letters");

  // The filtered redrive counts first (dry run) and changes nothing when cancelled.
  await page.getByTestId("bulk-redrive").click();
  await expect(page.getByTestId("bulk-matched")).toHaveText(/^[1-9]\d*$/);
  await expect(page.getByTestId("bulk-dry-run")).toContainText("ProbeFailure failures of diagnostics");
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(row).toBeVisible();

  // Detail: error, attempts, payload and every attribute.
  await row.click();
  const detail = page.getByTestId("dead-letter-detail");
  await expect(detail).toHaveAttribute("data-event-id", probe.id);
  await expect(detail.getByTestId("dead-letter-error")).toContainText("ProbeFailure");
  await expect(detail.getByTestId("dead-letter-error")).toContainText("fails on purpose");
  await expect(detail.getByTestId("dead-letter-error")).toContainText("after 3 attempts");
  await expect(detail).toContainText('"failUntil"');
  await expect(detail.getByTestId("dead-letter-attributes")).toContainText("ce_type");
  await expect(detail.getByTestId("dead-letter-attributes")).toContainText("diagnostics.probe");
  await expect(detail).toContainText(`Event #${probe.position.toLocaleString("en-US")} in the log`);
  await shot(page, "dead-letter-detail");

  // Once failUntil has passed, a redrive succeeds: the dead letter leaves the list.
  const wait = failUntil + 500 - Date.now();
  if (wait > 0) await page.waitForTimeout(wait);
  await page.getByTestId("detail-redrive").click();
  await expect(page.getByTestId("dead-letter-detail")).toHaveCount(0);
  await expect(page.getByTestId("dead-letters-notice")).toContainText("back in diagnostics");
  await expect(row).toHaveCount(0);

  // Queues: the diagnostics subscription processed it.
  await page.getByRole("link", { name: "Queues", exact: true }).click();
  await expect(page.getByTestId("queues-status")).toHaveAttribute("data-status", "live", { timeout: 20_000 });
  await expect
    .poll(async () => Number((await diagnostics.getByTestId("queue-processed").innerText()).replace(/\D/g, "")), { timeout: 20_000 })
    .toBeGreaterThan(processedBefore);
  // And it did not fail again.
  const after = await request.get("/api/v1/dead-letters?subscription=diagnostics&errorType=ProbeFailure", { headers: auth });
  expect(((await after.json()) as { items: Array<{ event: { id: string } }> }).items.map((item) => item.event.id)).not.toContain(probe.id);

  // Replay it to diagnostics from the Queues page: count first, then run, and watch it finish.
  const processedAfterRedrive = Number((await diagnostics.getByTestId("queue-processed").innerText()).replace(/\D/g, ""));
  await diagnostics.getByRole("button", { name: "Replay events to diagnostics" }).click();
  const form = page.getByTestId("replay-form");
  await expect(form.getByLabel("Subscription")).toHaveValue("diagnostics");
  await form.getByLabel("From position").fill(String(probe.position));
  await form.getByLabel("To position").fill(String(probe.position));
  await form.getByLabel("Types").fill("diagnostics.probe");
  await page.getByTestId("replay-submit").click();
  await expect(page.getByTestId("replay-matched")).toHaveAttribute("data-matched", "1");
  await expect(page.getByTestId("replay-submit")).toHaveText("Replay 1 event");
  await shot(page, "replay-dialog");
  await page.getByTestId("replay-submit").click();
  await expect(page.getByTestId("replay-tracker").getByTestId("replay-status")).toHaveAttribute("data-status", "done", { timeout: 20_000 });
  await expect(page.getByTestId("replay-tracker").getByTestId("replay-progress")).toHaveText("1 / 1");
  await page.getByTestId("replay-close").click();
  await expect
    .poll(async () => Number((await diagnostics.getByTestId("queue-processed").innerText()).replace(/\D/g, "")), { timeout: 20_000 })
    .toBeGreaterThan(processedAfterRedrive);
  await expect(page.getByTestId("recent-replay").first().getByTestId("replay-status")).toHaveAttribute("data-status", "done");
  await page.waitForTimeout(1_500);
  await shot(page, "queues");

  await page.getByRole("button", { name: "Switch to dark theme" }).first().click();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.waitForTimeout(300);
  await shot(page, "queues-dark");
  await page.getByRole("button", { name: "Switch to light theme" }).first().click();
  await expect(page.locator("html")).not.toHaveClass(/dark/);
});
