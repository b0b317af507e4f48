import { mkdirSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { admin } from "./fixtures";
import { shot, signIn } from "./helpers";

/**
 * Webhooks end to end: a real receiver on 127.0.0.1 inside this test process; an endpoint created
 * in the UI (filter previewed against recent events, the secret revealed once); an event triggered
 * through the REST API; its attempt, with the receiver's answer, in the endpoint's log; a test send.
 */

const SHOTS = "/tmp/shots";
mkdirSync(SHOTS, { recursive: true });

/** Into e2e/screenshots like every spec, and into /tmp/shots for review. */
async function capture(page: Page, name: string) {
  await shot(page, name);
  await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

/** Switches the page's theme as the theme script does, so it works under an open drawer or dialog too. */
async function setTheme(page: Page, theme: "light" | "dark") {
  await page.evaluate((dark) => {
    document.documentElement.classList.toggle("dark", dark);
    document.documentElement.style.colorScheme = dark ? "dark" : "light";
  }, theme === "dark");
  if (theme === "dark") await expect(page.locator("html")).toHaveClass(/dark/);
  else await expect(page.locator("html")).not.toHaveClass(/dark/);
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** Answers every POST with 200 and a small JSON body, and remembers what it got. */
async function startReceiver(): Promise<{ url: string; requests: Received[]; close(): Promise<void> }> {
  const requests: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      requests.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ ok: true, receiver: "e2e-loopback" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/eventloom`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Creates an exam through the REST API with the admin key: one exam.created event. */
async function createExam(request: APIRequestContext, subject: string): Promise<{ eventId: string }> {
  const response = await request.post("/api/v1/commands/exam.create", {
    headers: { authorization: `Bearer ${admin.apiKey}` },
    data: { title: `Webhook e2e ${Date.now()}`, subject, totalScore: 100, questionCount: 10 },
  });
  expect(response.status(), await response.text()).toBe(200);
  const body = (await response.json()) as { events: Array<{ id: string; type: string }> };
  const created = body.events.find((event) => event.type === "exam.created");
  expect(created).toBeDefined();
  return { eventId: created!.id };
}

test("webhooks: an endpoint created in the UI gets a real event; its attempt and the receiver's answer are in the log; send test", async ({ page, request }) => {
  test.setTimeout(180_000);
  const receiver = await startReceiver();
  const subject = `Webhooks ${Date.now()}`;
  try {
    // An earlier exam of the subject, for the filter preview to find.
    const earlier = await createExam(request, subject);

    await signIn(page, "/webhooks", admin.email, admin.password);
    await expect(page.getByRole("heading", { name: "Webhooks", level: 1 })).toBeVisible();
    await page.getByTestId("add-endpoint").first().click();
    const form = page.getByTestId("endpoint-form");
    await expect(form).toBeVisible();

    // Bad input is named under its field before anything is sent.
    await form.getByTestId("endpoint-submit").click();
    await expect(form.getByTestId("field-error-url")).toContainText("is required");
    await expect(form.getByTestId("field-error-eventTypes")).toBeVisible();

    await form.getByLabel("Endpoint URL").fill(receiver.url);
    await form.getByLabel("Description").fill("Exam events to the e2e receiver");
    // The picker: search, then take the exam.* family wildcard (it says how many types it covers).
    await form.getByTestId("event-type-search").fill("exam");
    const wildcard = form.locator("[data-testid=event-type-option][data-pattern='exam.*']");
    await expect(wildcard).toContainText(/\d+ types/);
    await wildcard.click();
    await expect(form.locator("[data-testid=chosen-type][data-pattern='exam.*']")).toContainText(/\d+ types/);
    await form.getByTestId("event-type-search").fill("");

    // The filter's live preview against recent events: the earlier exam matches and links to its page.
    await form.getByLabel("Expression").fill(`data.subject == "${subject}"`);
    const preview = form.getByTestId("filter-preview");
    await expect(preview).toBeVisible({ timeout: 15_000 });
    await expect(preview.getByTestId("filter-preview-count")).toHaveText("1");
    await expect(preview.getByTestId("filter-preview-event").first()).toHaveAttribute("href", `/events/${earlier.eventId}`);
    await form.getByLabel("Expression").scrollIntoViewIfNeeded();
    await capture(page, "webhooks-form-light");

    // An invalid expression: the preview says where it breaks.
    await form.getByLabel("Expression").fill("data.subject ==");
    await expect(form.getByTestId("filter-preview-error")).toBeVisible({ timeout: 15_000 });
    await form.getByLabel("Expression").fill(`data.subject == "${subject}"`);
    await expect(preview.getByTestId("filter-preview-count")).toHaveText("1", { timeout: 15_000 });

    await form.getByTestId("endpoint-submit").click();

    // The secret, once, with the warning.
    const reveal = page.getByTestId("secret-reveal");
    await expect(reveal).toBeVisible({ timeout: 15_000 });
    await expect(reveal.getByTestId("secret-value")).toHaveText(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    await expect(reveal).toContainText("You will not see this secret again");
    await capture(page, "webhooks-secret-light");
    await page.getByTestId("secret-done").click();
    await expect(reveal).toBeHidden();

    const row = page.locator(`[data-testid=endpoint-row][data-url='${receiver.url}']`);
    await expect(row).toBeVisible();
    await expect(row.getByTestId("endpoint-status")).toHaveAttribute("data-status", "enabled");

    // A real event of the subject: the dispatcher delivers it to the receiver.
    const triggered = await createExam(request, subject);
    await expect.poll(() => receiver.requests.some((received) => received.headers["webhook-id"] === triggered.eventId), { timeout: 30_000 }).toBe(true);
    const delivered = receiver.requests.find((received) => received.headers["webhook-id"] === triggered.eventId)!;
    expect(String(delivered.headers["webhook-signature"])).toMatch(/^v1,/);
    expect(JSON.parse(delivered.body)).toMatchObject({ id: triggered.eventId, type: "exam.created", data: { subject } });

    // The list shows its health once the attempt is in.
    await expect(row.getByTestId("http-status")).toHaveText("200", { timeout: 20_000 });
    await capture(page, "webhooks-list-light");
    await setTheme(page, "dark");
    await capture(page, "webhooks-list-dark");
    await setTheme(page, "light");

    // The endpoint's attempts log: the attempt with HTTP 200; the viewer shows the receiver's answer.
    await row.getByRole("link", { name: receiver.url }).click();
    await expect(page.getByTestId("endpoint-detail")).toBeVisible();
    const attempt = page.locator(`[data-testid=attempt-row][data-event='${triggered.eventId}']`);
    await expect(attempt).toHaveAttribute("data-status", "succeeded", { timeout: 20_000 });
    await expect(attempt).toHaveAttribute("data-http", "200");
    await attempt.click();
    const viewer = page.getByTestId("attempt-viewer");
    await expect(viewer).toBeVisible();
    await expect(viewer.getByTestId("request-url")).toHaveText(receiver.url);
    await expect(viewer.getByTestId("request-headers")).toContainText("webhook-signature");
    await expect(viewer.getByTestId("request-body")).toContainText(triggered.eventId);
    await expect(viewer.getByTestId("response-body")).toContainText("e2e-loopback");
    await expect(viewer.getByTestId("attempt-event-link")).toHaveAttribute("href", `/events/${triggered.eventId}`);
    await capture(page, "webhooks-attempt-light");
    await setTheme(page, "dark");
    await capture(page, "webhooks-attempt-dark");
    await page.getByRole("button", { name: "Close" }).click();
    await expect(viewer).toBeHidden();
    await capture(page, "webhooks-detail-dark");
    await setTheme(page, "light");
    await capture(page, "webhooks-detail-light");

    // Send test from the UI: signed, answered 200, and in the log as a test attempt.
    const before = receiver.requests.length;
    await page.getByTestId("send-test").click();
    await page.getByTestId("test-send").click();
    const result = page.getByTestId("test-result");
    await expect(result).toHaveAttribute("data-status", "succeeded", { timeout: 20_000 });
    await expect(result).toContainText("e2e-loopback");
    expect(receiver.requests.length).toBe(before + 1);
    expect(JSON.parse(receiver.requests.at(-1)!.body)).toMatchObject({ type: "webhook.test" });
    await capture(page, "webhooks-test-light");
    await page.getByTestId("test-open-attempt").click();
    await expect(page.getByTestId("attempt-viewer")).toHaveAttribute("data-status", "succeeded");
    await page.getByRole("button", { name: "Close" }).click();
    await expect(page.locator("[data-testid=attempt-row] [data-testid=attempt-trigger]").filter({ hasText: "test" })).toHaveCount(1, { timeout: 10_000 });

    // Back on the form for a dark shot of the preview.
    await page.getByTestId("edit-endpoint").click();
    await setTheme(page, "dark");
    await expect(page.getByTestId("filter-preview").getByTestId("filter-preview-count")).toHaveText("2", { timeout: 15_000 });
    await page.getByTestId("endpoint-form").getByLabel("Expression").scrollIntoViewIfNeeded();
    await capture(page, "webhooks-form-dark");
    await setTheme(page, "light");
  } finally {
    await receiver.close();
  }
});
