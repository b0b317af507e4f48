import type { Metadata } from "next";
import { SagaDetailPage } from "@/components/sagas/saga-detail-page";

type Params = Promise<{ id: string }>;

function decode(id: string): string {
  try {
    return decodeURIComponent(id);
  } catch {
    return id;
  }
}

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { id } = await params;
  return { title: `Saga ${decode(id).replace(/-/g, "").slice(-8)}` };
}

export default async function Page({ params }: { params: Params }) {
  const { id } = await params;
  return <SagaDetailPage id={decode(id)} />;
}
