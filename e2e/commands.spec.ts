import { expect, test, type Page } from "@playwright/test";
import { admin } from "./fixtures";
import { shot, signIn } from "./helpers";

async function setTheme(page: Page, theme: "light" | "dark") {
  const toggle = page.getByRole("button", { name: `Switch to ${theme} theme` }).first();
  if (await toggle.isVisible()) await toggle.click();
  if (theme === "dark") await expect(page.locator("html")).toHaveClass(/dark/);
  else await expect(page.locator("html")).not.toHaveClass(/dark/);
}

test("commands console: exam.create through the generated form, its events and version, the read model reflecting it, errors in place", async ({ page }) => {
  test.setTimeout(120_000);
  const title = `Thermodynamics final ${Date.now()}`;

  await signIn(page, "/commands", admin.email, admin.password);
  await expect(page.getByRole("heading", { name: "Commands", level: 1 })).toBeVisible();

  // The catalog, grouped by aggregate and searchable; picking a command puts it in the URL.
  const list = page.getByTestId("command-list");
  await expect(list.locator("[data-command='exam.create']")).toBeVisible();
  await expect(list.locator("[data-command='sheet.submit']")).toBeVisible();
  await page.getByLabel("Search commands").fill("publish");
  await expect(list.locator("[data-command='exam.publish_results']")).toBeVisible();
  await expect(list.locator("[data-command='exam.create']")).toHaveCount(0);
  await page.getByLabel("Search commands").fill("");
  await list.locator("[data-command='exam.create']").click();
  await expect(page).toHaveURL(/command=exam\.create/);
  const form = page.getByTestId("command-form");
  await expect(form).toHaveAttribute("data-command", "exam.create");
  await expect(form.getByTestId("command-scope")).toHaveText("commands:execute");

  // A missing required field is caught in place, under its field, before anything is sent.
  await form.getByLabel("Subject").fill("Physics");
  await form.getByLabel("Total score").fill("100");
  await form.getByLabel("Question count").fill("12");
  await form.getByTestId("command-submit").click();
  const titleField = form.locator("#command-title");
  await expect(titleField).toHaveAttribute("aria-invalid", "true");
  await expect(form.getByText("is required")).toBeVisible();
  await expect(form.getByText("Fix the marked fields first.")).toBeVisible();
  await shot(page, "commands-missing-field");

  // The generated form: a fresh id, the title; the command runs and shows its event and version 1.
  await form.getByRole("button", { name: "Generate Exam id" }).click();
  const examId = await form.locator("#command-examId").inputValue();
  expect(examId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  await titleField.fill(title);
  await form.getByTestId("command-submit").click();
  const result = page.getByTestId("command-result");
  await expect(result).toBeVisible({ timeout: 15_000 });
  await expect(result.getByTestId("command-version")).toHaveText("1");
  const event = result.locator("[data-testid=command-event][data-event-type='exam.created']");
  await expect(event).toHaveCount(1);
  const eventId = await event.getAttribute("data-event-id");
  await expect(event.getByRole("link", { name: /Open event exam\.created/ })).toHaveAttribute("href", `/events/${eventId}`);
  await expect(page.locator("[data-testid=execution-row][data-command='exam.create'][data-ok=true]")).toHaveCount(1);
  await shot(page, "commands-light");

  // The same exam again breaks a business rule: named in place, nothing appended.
  await form.getByTestId("command-submit").click();
  const rejection = page.getByTestId("rejection");
  await expect(rejection).toHaveAttribute("data-kind", "rule", { timeout: 15_000 });
  await expect(rejection).toHaveAttribute("data-rule", "exam_already_exists");
  await expect(rejection).toContainText(examId);
  await expect(page.locator("[data-testid=execution-row][data-command='exam.create'][data-ok=false]")).toHaveCount(1);
  await shot(page, "commands-rule-rejected");

  // A stale expected version on the exam's stream is a conflict with both versions.
  await list.locator("[data-command='exam.update']").click();
  await expect(form).toHaveAttribute("data-command", "exam.update");
  await form.locator("#command-examId").fill(examId);
  await form.getByLabel("Subject").fill("Thermal physics");
  await form.getByLabel("Expected version").fill("0");
  await form.getByTestId("command-submit").click();
  await expect(page.getByTestId("rejection")).toHaveAttribute("data-kind", "conflict", { timeout: 15_000 });
  await expect(page.getByTestId("conflict-actual")).toHaveText("1");
  await page.getByRole("button", { name: "Use version 1" }).click();
  await expect(form.getByLabel("Expected version")).toHaveValue("1");
  await form.getByTestId("command-submit").click();
  await expect(page.getByTestId("command-result").getByTestId("command-version")).toHaveText("2", { timeout: 15_000 });

  // Dark theme, the same page.
  await setTheme(page, "dark");
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, "commands-dark");
  await setTheme(page, "light");

  // The read model reflects the command: ask exams.get, waiting for the command's last position.
  await page.getByTestId("query-after-command").click();
  await expect(page).toHaveURL(/\/read-models\?minPosition=\d+/);
  const minPosition = Number(new URL(page.url()).searchParams.get("minPosition"));
  await expect(page.getByRole("heading", { name: "Read models", level: 1 })).toBeVisible();
  await expect(page.getByTestId("read-models-status")).toHaveAttribute("data-status", "live", { timeout: 20_000 });
  const runner = page.getByTestId("query-runner");
  await runner.getByTestId("query-select").selectOption("exams.get");
  const queryForm = runner.getByTestId("query-form");
  await expect(queryForm).toHaveAttribute("data-query", "exams.get");
  await expect(queryForm.getByLabel("Min position")).toHaveValue(String(minPosition));
  await queryForm.locator("#query-examId").fill(examId);
  await queryForm.getByTestId("query-submit").click();
  const answer = runner.getByTestId("query-answer");
  await expect(answer.getByTestId("query-position")).toHaveText(/^\d+$/, { timeout: 15_000 });
  expect(Number(await answer.getByTestId("query-position").innerText())).toBeGreaterThanOrEqual(minPosition);
  await expect(answer.getByTestId("query-json")).toContainText(title);
  await expect(answer.getByTestId("query-json")).toContainText("Thermal physics");

  // exams.list shows it as a table row; each projection's card has reached the command's position.
  await runner.getByTestId("query-select").selectOption("exams.list");
  await runner.getByTestId("query-submit").click();
  await expect(answer.getByTestId("query-table")).toContainText(title, { timeout: 15_000 });
  const exams = page.locator("[data-testid=projection-card][data-projection=exams]");
  await expect(exams.getByTestId("projection-state")).toHaveAttribute("data-state", "live", { timeout: 20_000 });
  await expect
    .poll(async () => Number((await exams.getByTestId("projection-position").innerText()).replace(/\D/g, "")), { timeout: 15_000 })
    .toBeGreaterThanOrEqual(minPosition);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, "read-models-light");
  await runner.scrollIntoViewIfNeeded();
  await shot(page, "read-models-query-light");

  // A blue/green rebuild of that projection, confirmed, switches over to a new generation.
  const generationBefore = Number((await exams.getByTestId("projection-generation").innerText()).replace(/\D/g, ""));
  await exams.getByTestId("projection-rebuild").click();
  await page.getByTestId("rebuild-confirm").click();
  await expect(exams.getByTestId("projection-switched")).toBeVisible({ timeout: 30_000 });
  expect(Number((await exams.getByTestId("projection-generation").innerText()).replace(/\D/g, ""))).toBeGreaterThan(generationBefore);

  await setTheme(page, "dark");
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, "read-models-dark");
  await runner.scrollIntoViewIfNeeded();
  await shot(page, "read-models-query-dark");
  await setTheme(page, "light");
});
