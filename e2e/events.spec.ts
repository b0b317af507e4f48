import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { admin } from "./fixtures";

// Screenshots for people to look at (gitignored); not compared by the test.
const shot = (page: Page, name: string) => page.screenshot({ path: resolve("e2e/screenshots", `${name}.png`), fullPage: false });

const auth = { Authorization: `Bearer ${admin.apiKey}` };

interface Accepted {
  id: string;
  position: number;
  correlationid: string;
}

async function publish(request: APIRequestContext, body: Record<string, unknown>): Promise<Accepted> {
  const response = await request.post("/api/v1/events", { headers: auth, data: body });
  expect(response.status(), await response.text()).toBe(202);
  return (await response.json()) as Accepted;
}

/** A small grading conversation, published through the REST API like any client would. */
async function publishConversation(request: APIRequestContext) {
  const examId = randomUUID();
  const batchId = randomUUID();
  const exam = await publish(request, {
    type: "exam.created",
    subject: examId,
    data: { examId, title: "Physics: Mechanics Midterm", subject: "Physics", totalScore: 100, questionCount: 12, createdBy: "teacher-okafor", durationMinutes: 90 },
  });
  const link = { correlationid: exam.correlationid, causationid: exam.id };
  const batch = await publish(request, { type: "batch.started", subject: batchId, ...link, data: { batchId, examId, sheetCount: 3 } });
  const sheets: Accepted[] = [];
  for (const student of ["s-1042", "s-1043", "s-1044"]) {
    const sheetId = randomUUID();
    const ocr = await publish(request, {
      type: "ocr.completed",
      subject: sheetId,
      correlationid: exam.correlationid,
      causationid: batch.id,
      data: { sheetId, examId, studentId: student, pageCount: 4, confidence: 0.97, answersDetected: 12, durationMs: 840 },
    });
    sheets.push(
      await publish(request, {
        type: "grading.completed",
        subject: sheetId,
        correlationid: exam.correlationid,
        causationid: ocr.id,
        data: { sheetId, examId, studentId: student, graderId: "auto-grader", score: 81, maxScore: 100, durationMs: 120 },
      }),
    );
  }
  return { exam, batch, sheets, examId };
}

test("events: live tail, detail, publish form, and API keys in settings", async ({ page, request }) => {
  test.setTimeout(120_000);

  // Sign in as the admin the server was started with; a wrong password is refused clearly.
  await page.goto("/events");
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Sign-in failed" })).toContainText("Wrong email or password");
  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/events$/);
  await expect(page.getByRole("heading", { name: "Events", level: 1 })).toBeVisible();
  await expect(page.getByTestId("user-role")).toHaveText(/admin/i);

  // The live tail connects, then events published over REST arrive in it.
  await expect(page.getByTestId("tail-status")).toHaveAttribute("data-status", "live", { timeout: 20_000 });
  const { exam, batch, sheets } = await publishConversation(request);
  const lastSheet = sheets.at(-1)!;
  await expect(page.locator(`[data-testid=event-row][data-event-id="${exam.id}"]`)).toBeVisible({ timeout: 15_000 });
  await expect(page.locator(`[data-testid=event-row][data-event-id="${lastSheet.id}"]`)).toBeVisible({ timeout: 15_000 });

  // Pause buffers new events and counts them; resume shows them.
  await page.getByTestId("tail-pause").click();
  const whilePaused = await publish(request, { type: "batch.completed", subject: batch.id, correlationid: exam.correlationid, causationid: batch.id, data: { batchId: randomUUID(), examId: randomUUID(), sheetCount: 3, gradedCount: 3, failedCount: 0, durationMs: 5100 } });
  await expect(page.getByTestId("tail-buffered")).toHaveText("1 new", { timeout: 15_000 });
  await expect(page.locator(`[data-testid=event-row][data-event-id="${whilePaused.id}"]`)).toHaveCount(0);
  await page.getByTestId("tail-resume").click();
  await expect(page.locator(`[data-testid=event-row][data-event-id="${whilePaused.id}"]`)).toBeVisible();

  // A type filter with a family wildcard reconnects and shows only that family.
  await page.getByLabel("Filter by type").fill("grading.*");
  await expect(page.locator(`[data-testid=event-row][data-event-id="${exam.id}"]`)).toHaveCount(0, { timeout: 15_000 });
  await expect(page.locator(`[data-testid=event-row][data-event-id="${lastSheet.id}"]`)).toBeVisible({ timeout: 15_000 });
  await expect(page.locator("[data-testid=event-row]").first()).toHaveAttribute("data-event-type", /^grading\./);
  await page.getByLabel("Filter by type").fill("");
  await expect(page.locator(`[data-testid=event-row][data-event-id="${exam.id}"]`)).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId("tail-status")).toHaveAttribute("data-status", "live");
  await shot(page, "events-light");

  // Detail: payload, attributes, the cause and the rest of the conversation.
  await page.locator(`[data-testid=event-row][data-event-id="${lastSheet.id}"]`).click();
  const detail = page.getByTestId("event-detail");
  await expect(detail).toHaveAttribute("data-event-id", lastSheet.id);
  await expect(detail).toContainText('"graderId"');
  await expect(detail).toContainText(exam.correlationid);
  await expect(detail.getByTestId("correlated-events")).toContainText("exam.created");
  await expect(detail.getByTestId("correlated-events")).toContainText("cause");
  await shot(page, "event-detail");
  // Following the cause swaps the drawer to that event.
  await detail.getByRole("button", { name: "Cause", exact: true }).click();
  await expect(page.getByTestId("event-detail")).toHaveAttribute("data-event-id", /.+/);
  await expect(page.getByTestId("event-detail")).not.toHaveAttribute("data-event-id", lastSheet.id);
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("event-detail")).toHaveCount(0);

  // The full-page detail route works too.
  await page.goto(`/events/${exam.id}`);
  await expect(page.getByTestId("event-detail")).toHaveAttribute("data-event-id", exam.id);
  await expect(page.getByTestId("correlated-events")).toContainText("grading.completed");
  await page.goto("/events");
  await expect(page.getByTestId("tail-status")).toHaveAttribute("data-status", "live", { timeout: 20_000 });

  // Publish form: example from the schema, client-side errors by path, then a real publish.
  await page.getByTestId("open-publish").click();
  const form = page.getByTestId("publish-form");
  await form.getByLabel("Event type").selectOption("exam.created");
  const editor = form.locator("#publish-data");
  await expect(editor).toHaveValue(/"examId"/);
  await editor.fill('{ "title": "Only a title" }');
  await expect(form.getByTestId("publish-issues")).toContainText("data.examId");
  await expect(form.getByTestId("publish-issues")).toContainText("is required");
  await form.getByTestId("publish-submit").click();
  await expect(form.getByText("Fix the highlighted fields first.")).toBeVisible();
  await shot(page, "publish-form-errors");
  await form.getByRole("button", { name: "Reset to example" }).click();
  await expect(form.getByText("Matches the exam.created schema")).toBeVisible();
  await form.getByLabel("Subject").fill("exam/e2e-form");
  await form.getByTestId("publish-submit").click();
  await expect(form.getByTestId("publish-success")).toBeVisible({ timeout: 15_000 });
  await page.keyboard.press("Escape");
  await expect(page.locator("[data-testid=event-row]", { hasText: "exam/e2e-form" })).toBeVisible({ timeout: 15_000 });

  // History search: filter by correlation id, oldest first.
  await page.getByRole("tab", { name: "History" }).click();
  await page.getByLabel("Correlation id").fill(exam.correlationid);
  await page.getByLabel("Order").selectOption("oldest");
  await page.getByTestId("history-search").click();
  const results = page.getByTestId("history-results");
  await expect(results.locator("[data-testid=event-row]").first()).toHaveAttribute("data-event-id", exam.id, { timeout: 15_000 });
  await expect(results.locator("[data-testid=event-row]")).toHaveCount(2 + sheets.length * 2 + 1);
  await shot(page, "events-history");

  // Dark mode: the toggle switches, and the choice survives a reload without a flash of light.
  await page.getByRole("tab", { name: "Live tail" }).click();
  await page.getByRole("button", { name: "Switch to dark theme" }).first().click();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.reload();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await expect(page.getByTestId("tail-status")).toHaveAttribute("data-status", "live", { timeout: 20_000 });
  await expect(page.locator("[data-testid=event-row]").first()).toBeVisible({ timeout: 15_000 });
  await shot(page, "events-dark");
  await page.getByRole("button", { name: "Switch to light theme" }).first().click();
  await expect(page.locator("html")).not.toHaveClass(/dark/);

  // Overview: head position and totals.
  await page.getByRole("link", { name: "Overview" }).click();
  await expect(page.getByTestId("head-position")).not.toHaveText("0", { timeout: 15_000 });
  await expect(page.getByText("Events per minute")).toBeVisible();
  await shot(page, "overview");

  // Settings: create an API key, see the plaintext once, then find it in the list.
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByTestId("api-key-create").click();
  const keyName = `e2e-reader-${Date.now()}`;
  await page.getByLabel("Name").fill(keyName);
  await page.getByLabel(/events:publish/).check();
  await page.getByTestId("api-key-submit").click();
  const plaintext = page.getByTestId("api-key-plaintext");
  await expect(plaintext).toHaveText(/^el_/);
  const key = (await plaintext.textContent())!.trim();
  await page.getByTestId("api-key-done").click();
  const row = page.locator(`[data-testid=api-key-row][data-key-name="${keyName}"]`);
  await expect(row).toBeVisible();
  await expect(row).toContainText("events:read");
  await expect(row).toContainText("events:publish");
  await expect(row).toContainText("Active");
  await shot(page, "settings");

  // The new key works against the REST API with its scopes.
  const read = await request.get("/api/v1/events?limit=1", { headers: { Authorization: `Bearer ${key}` } });
  expect(read.status()).toBe(200);
});
