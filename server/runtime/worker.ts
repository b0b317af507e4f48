// `npm run worker`: a process that runs engine workers only (no HTTP). Scale out by running more.
import { bootProcess } from "./boot";

await bootProcess("worker");
