export function Logo({ className }: { className?: string }) {
  return (
    <span className={className}>
      <span className="flex items-center gap-2">
        <svg viewBox="0 0 32 32" className="size-7" aria-hidden>
          <rect width="32" height="32" rx="8" className="fill-primary" />
          <path d="M9 11.5c3.5 0 3.5 9 7 9s3.5-9 7-9" fill="none" stroke="white" strokeWidth="2.4" strokeLinecap="round" />
          <circle cx="9" cy="11.5" r="2" fill="white" />
          <circle cx="23" cy="11.5" r="2" fill="white" />
        </svg>
        <span className="text-[15px] font-semibold tracking-tight">Eventloom</span>
      </span>
    </span>
  );
}
