//! OTP's exit-signal receive table as one pure function.

use crate::ExitReason;

/// How an exit signal reached its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Sent through a link because the linked process terminated (Erlang's *link flag* set).
    Link {
        /// Whether the receiver still holds the link when the signal arrives; `unlink` from
        /// either side deactivates it.
        active: bool,
    },
    /// Sent explicitly with [`process::exit`](crate::process::exit).
    Exit {
        /// Whether the receiver sent the signal to itself.
        to_self: bool,
    },
}

/// What the receiver of an exit signal does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// The signal has no effect.
    Drop,
    /// The receiver terminates with this reason.
    Terminate(ExitReason),
    /// The receiver traps exits: the signal becomes an [`Exit`](crate::Exit) message appended to
    /// its mailbox.
    Message,
}

/// Decide the effect of an exit signal with `reason`, arriving by `origin`, at a receiver that
/// does (`trapping`) or does not trap exits.
///
/// This is the table of Erlang's reference manual, §"Receiving Exit Signals", in its order:
///
/// 1. a link signal whose link was deactivated is dropped;
/// 2. `exit(pid, kill)` (no link flag) terminates the receiver with `killed`, trapping or not;
/// 3. a trapping receiver gets the signal as a message — including a link-delivered `kill`
///    and `exit(self(), normal)`;
/// 4. `normal` is dropped, unless the receiver sent it to itself, which terminates it `normal`;
/// 5. any other reason terminates the receiver with the same reason (a link-delivered `kill`
///    stays `kill`).
pub(crate) fn decide(reason: &ExitReason, origin: Origin, trapping: bool) -> Effect {
    if origin == (Origin::Link { active: false }) {
        return Effect::Drop;
    }
    if matches!(origin, Origin::Exit { .. }) && *reason == ExitReason::Kill {
        return Effect::Terminate(ExitReason::Killed);
    }
    if trapping {
        return Effect::Message;
    }
    if reason.is_normal() {
        return match origin {
            Origin::Exit { to_self: true } => Effect::Terminate(ExitReason::Normal),
            _ => Effect::Drop,
        };
    }
    Effect::Terminate(reason.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: Origin = Origin::Link { active: true };
    const UNLINKED: Origin = Origin::Link { active: false };
    const EXIT: Origin = Origin::Exit { to_self: false };
    const SELF: Origin = Origin::Exit { to_self: true };

    fn reasons() -> Vec<ExitReason> {
        vec![
            ExitReason::Normal,
            ExitReason::Shutdown,
            ExitReason::shutdown_with("x"),
            ExitReason::Kill,
            ExitReason::Killed,
            ExitReason::NoProc,
            ExitReason::error("boom"),
            ExitReason::Panic {
                message: "p".into(),
                location: None,
            },
        ]
    }

    #[test]
    fn deactivated_link_signal_is_dropped_for_every_reason_and_trap_setting() {
        for r in reasons() {
            for trapping in [false, true] {
                assert_eq!(decide(&r, UNLINKED, trapping), Effect::Drop, "{r:?}");
            }
        }
    }

    #[test]
    fn exit_kill_terminates_with_killed_even_when_trapping() {
        for origin in [EXIT, SELF] {
            for trapping in [false, true] {
                assert_eq!(
                    decide(&ExitReason::Kill, origin, trapping),
                    Effect::Terminate(ExitReason::Killed)
                );
            }
        }
    }

    #[test]
    fn link_delivered_kill_is_trappable() {
        assert_eq!(decide(&ExitReason::Kill, LINK, true), Effect::Message);
    }

    #[test]
    fn link_delivered_kill_terminates_non_trapping_receiver_with_kill_not_killed() {
        assert_eq!(
            decide(&ExitReason::Kill, LINK, false),
            Effect::Terminate(ExitReason::Kill)
        );
    }

    #[test]
    fn trapping_receiver_gets_a_message_for_every_reason_but_exit_kill() {
        for r in reasons() {
            for origin in [LINK, EXIT, SELF] {
                let expected = if r == ExitReason::Kill && origin != LINK {
                    Effect::Terminate(ExitReason::Killed)
                } else {
                    Effect::Message
                };
                assert_eq!(decide(&r, origin, true), expected, "{r:?} {origin:?}");
            }
        }
    }

    #[test]
    fn normal_from_another_process_is_dropped_when_not_trapping() {
        assert_eq!(decide(&ExitReason::Normal, LINK, false), Effect::Drop);
        assert_eq!(decide(&ExitReason::Normal, EXIT, false), Effect::Drop);
    }

    #[test]
    fn exit_self_normal_terminates_normal_when_not_trapping() {
        assert_eq!(
            decide(&ExitReason::Normal, SELF, false),
            Effect::Terminate(ExitReason::Normal)
        );
    }

    #[test]
    fn exit_self_normal_is_a_message_when_trapping() {
        assert_eq!(decide(&ExitReason::Normal, SELF, true), Effect::Message);
    }

    #[test]
    fn abnormal_reason_terminates_non_trapping_receiver_with_the_same_reason() {
        for r in reasons() {
            if r.is_normal() || r == ExitReason::Kill {
                continue;
            }
            for origin in [LINK, EXIT, SELF] {
                assert_eq!(
                    decide(&r, origin, false),
                    Effect::Terminate(r.clone()),
                    "{r:?} {origin:?}"
                );
            }
        }
    }

    #[test]
    fn killed_received_through_a_link_is_an_ordinary_abnormal_reason() {
        assert_eq!(
            decide(&ExitReason::Killed, LINK, false),
            Effect::Terminate(ExitReason::Killed)
        );
        assert_eq!(decide(&ExitReason::Killed, LINK, true), Effect::Message);
    }
}
