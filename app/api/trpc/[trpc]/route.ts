import { handleTRPCRequest } from "@/server/api/trpc/handler";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export { handleTRPCRequest as GET, handleTRPCRequest as POST };
