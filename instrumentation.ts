// Next.js calls register() once when the server process starts: the place to boot engine workers.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { bootProcess } = await import("./server/runtime/boot");
  await bootProcess("web");
}
