import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Native/WASM database drivers and broker SDKs must be loaded by Node at run time, not bundled.
  serverExternalPackages: ["@electric-sql/pglite", "postgres", "ioredis", "kafkajs", "amqplib", "prom-client"],
  typedRoutes: false,
  poweredByHeader: false,
};

export default nextConfig;
