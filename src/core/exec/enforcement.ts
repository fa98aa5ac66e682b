// What the kernel enforces for one session, as the supervisor reports it (docs/protocol.md, REPORT). It sits
// here, beside the other facts the native side gathers, so that the audit records (which log it) and the
// session (which receives it) both depend on it without depending on each other.

/** REPORT's key=value pairs: landlock_abi, fs, net, scope_signal, scope_abstract_unix, notif, wait_killable… */
export type EnforcementReport = Record<string, string>;
