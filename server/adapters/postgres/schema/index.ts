export * from "./events";
export * from "./auth";
export * from "./transport";
export * from "./tasks";
export * from "./replays";
export * from "./projections";
export * from "./snapshots";
export * from "./read-models";
