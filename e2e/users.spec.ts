import { expect, test, type Page } from "@playwright/test";
import { admin } from "./fixtures";
import { shot, signIn, submitSignIn } from "./helpers";

async function signInToSettings(page: Page, email: string, password: string) {
  await signIn(page, "/settings", email, password);
  await expect(page.getByRole("heading", { name: "Settings", level: 1 })).toBeVisible();
}

async function signOut(page: Page, email: string) {
  await page.getByRole("button", { name: new RegExp(email.replace(/[.+]/g, "\\$&")) }).click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
}

test("users: an admin adds an analyst, who signs in to a read-only Settings and changes their password", async ({ page }) => {
  test.setTimeout(120_000);
  const analystEmail = `analyst-${Date.now()}@example.com`;

  // The admin sees the users table, themselves in it, and cannot change their own account.
  await signInToSettings(page, admin.email, admin.password);
  const panel = page.getByTestId("users-panel");
  const adminRow = panel.locator(`[data-testid=user-row][data-user-email="${admin.email}"]`);
  await expect(adminRow).toContainText("You");
  await expect(adminRow).toContainText(/admin/i);
  await expect(adminRow.getByRole("button", { name: /Remove/ })).toHaveCount(0);

  // Add user: client-side checks first, then a real user with the generated password.
  await page.getByTestId("user-add").click();
  const form = page.getByTestId("add-user-form");
  await page.getByTestId("user-add-submit").click();
  await expect(form).toContainText("Enter their email address");
  await expect(form).toContainText("Give the user a name");
  await form.getByLabel("Email").fill(analystEmail);
  await form.getByLabel("Name").fill("Ada Analyst");
  await expect(form.getByRole("radio", { name: "analyst" })).toBeChecked();
  await expect(form.getByText("Read events and query read models")).toBeVisible();
  await expect(form.getByText("Analyst access, plus publish events, run commands and manage webhooks")).toBeVisible();
  await form.getByRole("button", { name: "Generate new" }).click();
  const passwordField = form.getByLabel("Password", { exact: true });
  await expect(passwordField).toHaveAttribute("type", "text");
  const password = await passwordField.inputValue();
  expect(password).toHaveLength(20);
  await form.getByRole("button", { name: "Hide password" }).click();
  await expect(passwordField).toHaveAttribute("type", "password");
  await shot(page, "settings-add-user");
  await page.getByTestId("user-add-submit").click();
  await expect(page.getByTestId("user-added-email")).toHaveText(analystEmail);
  await expect(page.getByTestId("user-added-password")).toHaveText(password);
  await page.getByTestId("user-add-done").click();

  const row = panel.locator(`[data-testid=user-row][data-user-email="${analystEmail}"]`);
  await expect(row).toContainText("Ada Analyst");
  await expect(row).toContainText(/analyst/i);
  await expect(row).toContainText("Active");

  // The same email again is refused in place, on the email field.
  await page.getByTestId("user-add").click();
  await form.getByLabel("Email").fill(analystEmail);
  await form.getByLabel("Name").fill("Again");
  await page.getByTestId("user-add-submit").click();
  await expect(form).toContainText("A user with this email already exists");
  await page.getByRole("button", { name: "Cancel" }).click();

  // Inline role change asks first: cancel leaves the role, confirm changes it (and back).
  const roleSelect = row.getByLabel(`Change role of ${analystEmail}`);
  await roleSelect.selectOption("operator");
  await expect(page.getByRole("dialog")).toContainText("Analyst access, plus publish events");
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(row).toContainText(/analyst/i);
  await roleSelect.selectOption("operator");
  await expect(page.getByRole("dialog")).toContainText("Make Ada Analyst an operator?");
  await shot(page, "settings-role-confirm");
  await page.getByTestId("user-confirm").click();
  await expect(row.getByText("operator", { exact: true })).toBeVisible();
  await roleSelect.selectOption("analyst");
  await page.getByTestId("user-confirm").click();
  await expect(row.getByText("analyst", { exact: true })).toBeVisible();
  await page.getByTestId("users-panel").evaluate((element) => element.scrollIntoView({ block: "start" }));
  await shot(page, "settings-users");

  // The analyst: Settings is read-only, no API keys, no users.
  await signOut(page, admin.email);
  await signInToSettings(page, analystEmail, password);
  await expect(page.getByTestId("user-role")).toHaveText(/analyst/i);
  await expect(page.getByRole("status").filter({ hasText: "Read-only" })).toContainText("You can change your own password below");
  await expect(page.getByText("Only administrators manage API keys")).toBeVisible();
  await expect(page.getByTestId("api-key-create")).toHaveCount(0);
  await expect(page.getByTestId("users-panel")).toHaveCount(0);
  await shot(page, "settings-readonly");

  // Change password: a wrong current password is shown on that field; then it works.
  const card = page.getByTestId("change-password");
  const newPassword = "analyst-chose-this-1";
  await card.getByLabel("Current password").fill("not-my-password");
  await card.getByLabel("New password", { exact: true }).fill(newPassword);
  await card.getByLabel("Confirm new password").fill(newPassword + "x");
  await page.getByTestId("change-password-submit").click();
  await expect(card).toContainText("Does not match the new password");
  await card.getByLabel("Confirm new password").fill(newPassword);
  await page.getByTestId("change-password-submit").click();
  await expect(card).toContainText("The current password is not correct");
  await card.getByLabel("Current password").fill(password);
  await page.getByTestId("change-password-submit").click();
  await expect(page.getByTestId("change-password-success")).toBeVisible();
  await expect(card.getByLabel("Current password")).toHaveValue("");
  await card.scrollIntoViewIfNeeded();
  await shot(page, "settings-analyst");

  // This session survives the change (its cookie was renewed); the new password signs in.
  // (The old one failing is covered by users.int.test.ts: sign-in allows 3 attempts per 10 s.)
  await page.reload();
  await expect(page.getByTestId("user-role")).toHaveText(/analyst/i);
  await expect(page.getByTestId("change-password")).toBeVisible();
  await signOut(page, analystEmail);
  await submitSignIn(page, analystEmail, newPassword, /^(?!.*\/login)/);
  await expect(page.getByTestId("user-role")).toHaveText(/analyst/i);
});
