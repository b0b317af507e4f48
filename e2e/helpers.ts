import { resolve } from "node:path";
import { expect, type Page } from "@playwright/test";

/** Screenshots for people to look at (gitignored); not compared by the tests. */
export const shot = (page: Page, name: string) => page.screenshot({ path: resolve("e2e/screenshots", `${name}.png`), fullPage: false });

/**
 * Submits the login form shown and waits to land where `landing` matches. better-auth allows 3
 * sign-ins per 10 s from one address and the specs share one server: when an earlier spec used
 * them up, wait out the window once and retry.
 */
export async function submitSignIn(page: Page, email: string, password: string, landing: RegExp) {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  const limited = page.getByRole("alert").filter({ hasText: "Too many attempts" });
  await expect(page.getByRole("heading", { level: 1 }).filter({ hasNotText: "Sign in" }).or(limited)).toBeVisible();
  if (await limited.isVisible()) {
    await page.waitForTimeout(11_000);
    await page.getByRole("button", { name: "Sign in" }).click();
  }
  await expect(page).toHaveURL(landing);
}

/** Opens `path` signed out (the login page shows), signs in, and lands back on `path`. */
export async function signIn(page: Page, path: string, email: string, password: string) {
  await page.goto(path);
  await expect(page).toHaveURL(/\/login/);
  await submitSignIn(page, email, password, new RegExp(`${path.replace(/[/]/g, "\\/")}$`));
}
