import {
  Activity,
  ArchiveX,
  DatabaseZap,
  Layers,
  LayoutDashboard,
  Network,
  Route,
  ScrollText,
  Settings,
  SquareTerminal,
  Waves,
  Webhook,
  Workflow,
  type LucideIcon,
} from "lucide-react";

export interface NavItem {
  href: string;
  label: string;
  icon: LucideIcon;
}

export interface NavGroup {
  label: string;
  items: NavItem[];
}

export const navigation: NavGroup[] = [
  {
    label: "Monitor",
    items: [
      { href: "/", label: "Overview", icon: LayoutDashboard },
      { href: "/events", label: "Events", icon: Activity },
      { href: "/traces", label: "Traces", icon: Network },
    ],
  },
  {
    label: "Delivery",
    items: [
      { href: "/queues", label: "Queues", icon: Layers },
      { href: "/dead-letters", label: "Dead letters", icon: ArchiveX },
      { href: "/webhooks", label: "Webhooks", icon: Webhook },
      { href: "/routes", label: "Routes", icon: Route },
    ],
  },
  {
    label: "Processing",
    items: [
      { href: "/commands", label: "Commands", icon: SquareTerminal },
      { href: "/read-models", label: "Read models", icon: DatabaseZap },
      { href: "/sagas", label: "Sagas", icon: Workflow },
      { href: "/streams", label: "Streams", icon: Waves },
    ],
  },
  {
    label: "Administration",
    items: [
      { href: "/audit", label: "Audit", icon: ScrollText },
      { href: "/settings", label: "Settings", icon: Settings },
    ],
  },
];

export function isActive(pathname: string, href: string): boolean {
  if (href === "/") return pathname === "/";
  return pathname === href || pathname.startsWith(`${href}/`);
}
