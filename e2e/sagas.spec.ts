import { randomUUID } from "node:crypto";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { admin } from "./fixtures";
import { shot, signIn } from "./helpers";

const auth = { Authorization: `Bearer ${admin.apiKey}` };

/** An exam and one sheet of it scanned at `dpi`, through REST with the admin key: the reaction starts the sheet's grading saga. */
async function submitSheet(request: APIRequestContext, dpi: number): Promise<{ examId: string; sheetId: string }> {
  const examId = randomUUID();
  const sheetId = randomUUID();
  const exam = await request.post("/api/v1/commands/exam.create", {
    headers: auth,
    data: { examId, title: `Saga optics ${Date.now()}`, subject: "Physics", totalScore: 100, questionCount: 10 },
  });
  expect(exam.status(), await exam.text()).toBe(200);
  const sheet = await request.post("/api/v1/commands/sheet.submit", { headers: auth, data: { sheetId, examId, studentId: "stu-e2e-saga", pageCount: 2, dpi } });
  expect(sheet.status(), await sheet.text()).toBe(200);
  return { examId, sheetId };
}

/** The stored preference the theme script reads before paint, then a reload: the page as a dark-mode user first sees it. */
async function showTheme(page: Page, theme: "light" | "dark") {
  await page.evaluate((value) => localStorage.setItem("eventloom-theme", value), theme);
  await page.reload();
  if (theme === "dark") await expect(page.locator("html")).toHaveClass(/dark/);
  else await expect(page.locator("html")).not.toHaveClass(/dark/);
}

/** Scrolls the timeline to the top of the window, so both lanes show in a screenshot. */
async function showTimeline(page: Page) {
  await page.getByTestId("saga-timeline").evaluate((element) => element.scrollIntoView({ block: "start" }));
}

test("a sheet scanned at 100 dpi: its grading saga fails at OCR (step 2), compensates start_ocr, and the timeline shows both lanes", async ({ page, request }) => {
  test.setTimeout(180_000);
  const { sheetId } = await submitSheet(request, 100);

  await signIn(page, "/sagas", admin.email, admin.password);
  await expect(page.getByRole("heading", { name: "Sagas", level: 1 })).toBeVisible();
  await expect(page.getByTestId("sagas-status")).toHaveAttribute("data-status", "live", { timeout: 20_000 });

  // Filter to sheet grading sagas that were compensated: the filters go into the URL.
  await page.getByTestId("saga-type-filter").selectOption("sheet_grading");
  await expect(page).toHaveURL(/type=sheet_grading/);
  await page.locator("[data-testid=status-chip][data-status=compensated]").click();
  await expect(page).toHaveURL(/status=compensated/);
  const row = page.locator("[data-testid=saga-row]").filter({ hasText: sheetId });
  // The list is live: the saga shows up once OCR failed for good and start_ocr was compensated.
  await expect(row).toBeVisible({ timeout: 90_000 });
  await expect(row).toHaveAttribute("data-status", "compensated");
  await expect(row).toHaveAttribute("data-type", "sheet_grading");
  await expect(row.getByTestId("saga-kind")).toHaveAttribute("data-kind", "orchestrated");
  await expect(row.getByTestId("saga-row-error")).toContainText(/dpi/i);
  await expect(page.locator("[data-testid=status-chip][data-status=compensated] [data-testid=status-chip-count]")).not.toHaveText("0");
  for (const other of await page.locator("[data-testid=saga-row]").all()) await expect(other).toHaveAttribute("data-status", "compensated");
  await shot(page, "sagas-list-light");

  // Another status filter leaves it out.
  await page.locator("[data-testid=status-chip][data-status=completed]").click();
  await expect(page).toHaveURL(/status=completed/);
  await expect(row).toHaveCount(0);
  await page.locator("[data-testid=status-chip][data-status=compensated]").click();
  await expect(row).toBeVisible();

  // The saga's page: header, then the timeline with its two lanes.
  await row.click();
  await expect(page).toHaveURL(/\/sagas\/[0-9a-f-]{36}$/);
  const sagaId = page.url().split("/").at(-1)!;
  const detail = page.getByTestId("saga-detail");
  await expect(detail).toHaveAttribute("data-status", "compensated");
  await expect(detail.getByTestId("saga-type")).toHaveText("sheet_grading");
  await expect(detail.getByTestId("saga-error")).toContainText(/dpi/i);

  const forward = page.getByTestId("lane-forward");
  const compensation = page.getByTestId("lane-compensation");
  await expect(forward.locator("[data-testid=timeline-row][data-step=start_ocr]")).toHaveAttribute("data-status", "completed");
  await expect(forward.locator("[data-testid=timeline-row][data-step=ocr]")).toHaveAttribute("data-status", "failed");
  await expect(forward.locator("[data-testid=timeline-row][data-step=ocr] [data-testid=timeline-bar]").last()).toHaveAttribute("data-tone", "failed");
  await expect(forward.locator("[data-testid=timeline-row][data-status=completed]")).toHaveCount(1);
  await expect(compensation.locator("[data-testid=timeline-row]")).toHaveCount(1);
  await expect(compensation.locator("[data-testid=timeline-row][data-step=start_ocr]")).toHaveAttribute("data-status", "completed");
  await expect(page.locator("[data-testid=step-row][data-phase=compensation][data-step=start_ocr]")).toBeVisible();
  await showTimeline(page);
  await shot(page, "saga-timeline-light");

  // OCR's panel: its attempt and the error naming the resolution.
  await forward.locator("[data-testid=timeline-row][data-step=ocr]").click();
  const panel = page.getByTestId("step-panel");
  await expect(panel).toHaveAttribute("data-step", "ocr");
  await expect(panel.getByTestId("step-error")).toContainText(/dpi/i);
  await expect(panel.getByTestId("step-attempt").first()).toBeVisible();
  await shot(page, "saga-step-ocr-light");
  await page.keyboard.press("Escape");
  await expect(panel).toHaveCount(0);

  // Dark theme: the list and the timeline.
  await showTheme(page, "dark");
  await expect(page.getByTestId("saga-detail")).toHaveAttribute("data-status", "compensated");
  await showTimeline(page);
  await shot(page, "saga-timeline-dark");
  await page.goto("/sagas?type=sheet_grading&status=compensated");
  await expect(row).toBeVisible({ timeout: 20_000 });
  await shot(page, "sagas-list-dark");
  await page.goto(`/sagas/${sagaId}`);
  await showTheme(page, "light");

  // start_ocr's panel lists the events its command produced; one opens the event's page.
  await page.getByTestId("lane-forward").locator("[data-testid=timeline-row][data-step=start_ocr]").click();
  const startOcr = page.getByTestId("step-panel");
  await expect(startOcr).toHaveAttribute("data-step", "start_ocr");
  const event = startOcr.getByTestId("step-event").first();
  await expect(event).toBeVisible();
  const href = await event.getAttribute("href");
  expect(href).toMatch(/^\/events\/[0-9a-f-]{36}$/);
  await event.click();
  await expect(page).toHaveURL(new RegExp(`${href!}$`));
  await expect(page.getByRole("heading", { name: "Event", level: 1 })).toBeVisible();
  await expect(page.getByText(href!.split("/").at(-1)!).first()).toBeVisible();
});

test("saga list filters: correlation id search, kind, and the start dialog's field issues in place", async ({ page, request }) => {
  test.setTimeout(120_000);
  const { sheetId } = await submitSheet(request, 100);

  await signIn(page, "/sagas", admin.email, admin.password);
  const row = page.locator("[data-testid=saga-row]").filter({ hasText: sheetId });
  await expect(row).toBeVisible({ timeout: 60_000 });

  // Its correlation id (from the detail page) finds it alone.
  await row.click();
  const correlationLink = page.getByTestId("saga-correlation-events");
  const correlationid = new URL(`http://x${await correlationLink.getAttribute("href")}`).searchParams.get("correlationid")!;
  await page.goto("/sagas");
  await page.getByTestId("saga-correlation-filter").fill(correlationid);
  await page.getByTestId("saga-correlation-filter").press("Enter");
  await expect(page).toHaveURL(new RegExp(`correlationid=${correlationid}`));
  await expect(page.locator("[data-testid=saga-row]").filter({ hasText: sheetId })).toBeVisible();
  await expect(page.locator(`[data-testid=saga-row][data-type=sheet_grading]`)).toHaveCount(1);

  // Choreographed only: the orchestrated grading saga is not among them.
  await page.goto("/sagas?kind=choreographed");
  await expect(page.getByTestId("sagas-table")).toBeVisible();
  await expect(page.locator("[data-testid=saga-row][data-type=sheet_grading]")).toHaveCount(0);

  // The start dialog checks the input against the type's schema and names each field in place.
  await page.goto("/sagas");
  await page.getByTestId("open-start-saga").click();
  await page.locator("#saga-start-type").selectOption("sheet_grading");
  const form = page.getByTestId("start-saga-form");
  await expect(form).toHaveAttribute("data-type", "sheet_grading");
  await form.getByRole("button", { name: "JSON" }).click();
  await form.locator("#saga-input-json").fill("{}");
  await form.getByTestId("start-saga-submit").click();
  await expect(form.getByText("Fix the marked fields first.")).toBeVisible();
  await expect(form.getByTestId("saga-input-json-issues")).toContainText("sheetId");
  await form.getByTestId("saga-input-json-issues").scrollIntoViewIfNeeded();
  await shot(page, "saga-start-dialog-light");
});
