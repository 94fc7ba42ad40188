//! Control messages: the signals nodes exchange, each a tuple whose first element says what
//! it is (OTP's `erl_dist_protocol`), possibly followed by a payload term (a message, or an
//! exit reason with `DFLAG_EXIT_PAYLOAD`).
//!
//! Received: every form a BEAM node sends under the flags ferrotp announces, with trace
//! tokens ignored. Sent: `LINK`, `SEND_SENDER`, `REG_SEND`, `EXIT`, `EXIT2`, `MONITOR_P`,
//! `DEMONITOR_P`, `MONITOR_P_EXIT`, `ALIAS_SEND`, `UNLINK_ID` and `UNLINK_ID_ACK`.

use crate::term::{Atom, ExternalPid, ExternalRef, Term};

const LINK: i64 = 1;
const SEND: i64 = 2;
const EXIT: i64 = 3;
const UNLINK: i64 = 4;
const NODE_LINK: i64 = 5;
const REG_SEND: i64 = 6;
const GROUP_LEADER: i64 = 7;
const EXIT2: i64 = 8;
const SEND_TT: i64 = 12;
const EXIT_TT: i64 = 13;
const REG_SEND_TT: i64 = 16;
const EXIT2_TT: i64 = 18;
const MONITOR_P: i64 = 19;
const DEMONITOR_P: i64 = 20;
const MONITOR_P_EXIT: i64 = 21;
const SEND_SENDER: i64 = 22;
const SEND_SENDER_TT: i64 = 23;
const PAYLOAD_EXIT: i64 = 24;
const PAYLOAD_EXIT_TT: i64 = 25;
const PAYLOAD_EXIT2: i64 = 26;
const PAYLOAD_EXIT2_TT: i64 = 27;
const PAYLOAD_MONITOR_P_EXIT: i64 = 28;
const ALIAS_SEND: i64 = 33;
const ALIAS_SEND_TT: i64 = 34;
const UNLINK_ID: i64 = 35;
const UNLINK_ID_ACK: i64 = 36;

/// A process as a monitor names it: by pid, or by registered name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ProcRef {
    Pid(ExternalPid),
    Name(Atom),
}

impl ProcRef {
    fn from_term(t: &Term) -> Option<ProcRef> {
        match t {
            Term::Pid(p) => Some(ProcRef::Pid(p.clone())),
            Term::Atom(a) => Some(ProcRef::Name(a.clone())),
            _ => None,
        }
    }

    fn to_term(&self) -> Term {
        match self {
            ProcRef::Pid(p) => Term::Pid(p.clone()),
            ProcRef::Name(a) => Term::Atom(a.clone()),
        }
    }
}

/// What a reason-carrying signal carries: the reason itself, or the word that it follows as
/// the payload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reason {
    Inline(Term),
    InPayload,
}

/// A control message, as received or to be sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Control {
    Link {
        from: ExternalPid,
        to: ExternalPid,
    },
    /// A message to a pid; the message is the payload.
    Send {
        from: Option<ExternalPid>,
        to: ExternalPid,
    },
    /// A message to a registered name; the message is the payload.
    RegSend {
        from: ExternalPid,
        to: Atom,
    },
    /// A message to an alias; the message is the payload.
    AliasSend {
        from: ExternalPid,
        alias: ExternalRef,
    },
    /// An exit signal: through a link (`link`), or `exit/2`.
    Exit {
        from: ExternalPid,
        to: ExternalPid,
        reason: Reason,
        link: bool,
    },
    /// The pre-OTP 23 unlink, which needs no answer.
    Unlink {
        from: ExternalPid,
        to: ExternalPid,
    },
    UnlinkId {
        id: Term,
        from: ExternalPid,
        to: ExternalPid,
    },
    UnlinkIdAck {
        id: Term,
        from: ExternalPid,
        to: ExternalPid,
    },
    MonitorP {
        from: ExternalPid,
        to: ProcRef,
        reference: ExternalRef,
    },
    DemonitorP {
        from: ExternalPid,
        to: ProcRef,
        reference: ExternalRef,
    },
    MonitorPExit {
        from: ProcRef,
        to: ExternalPid,
        reference: ExternalRef,
        reason: Reason,
    },
    /// Signals ferrotp has no use for (`NODE_LINK`, `GROUP_LEADER`): accepted and ignored.
    Ignored(i64),
}

impl Control {
    /// Whether a payload term follows the control message.
    pub(crate) fn has_payload(&self) -> bool {
        match self {
            Control::Send { .. } | Control::RegSend { .. } | Control::AliasSend { .. } => true,
            Control::Exit { reason, .. } | Control::MonitorPExit { reason, .. } => {
                *reason == Reason::InPayload
            }
            _ => false,
        }
    }

    /// Parse a control tuple; `None` for one that is malformed or unknown.
    pub(crate) fn from_term(t: &Term) -> Option<Control> {
        let items = t.as_tuple()?;
        let (op, rest) = items.split_first()?;
        let pid = |i: usize| match rest.get(i)? {
            Term::Pid(p) => Some(p.clone()),
            _ => None,
        };
        let reference = |i: usize| match rest.get(i)? {
            Term::Ref(r) => Some(r.clone()),
            _ => None,
        };
        let atom = |i: usize| match rest.get(i)? {
            Term::Atom(a) => Some(a.clone()),
            _ => None,
        };
        let inline = |i: usize| rest.get(i).cloned().map(Reason::Inline);
        Some(match op.as_i64()? {
            LINK => Control::Link {
                from: pid(0)?,
                to: pid(1)?,
            },
            SEND | SEND_TT => Control::Send {
                from: None,
                to: pid(1)?,
            },
            SEND_SENDER | SEND_SENDER_TT => Control::Send {
                from: Some(pid(0)?),
                to: pid(1)?,
            },
            REG_SEND | REG_SEND_TT => Control::RegSend {
                from: pid(0)?,
                to: atom(2)?,
            },
            ALIAS_SEND | ALIAS_SEND_TT => Control::AliasSend {
                from: pid(0)?,
                alias: reference(1)?,
            },
            EXIT | EXIT2 => Control::Exit {
                from: pid(0)?,
                to: pid(1)?,
                reason: inline(2)?,
                link: op.as_i64() == Some(EXIT),
            },
            EXIT_TT | EXIT2_TT => Control::Exit {
                from: pid(0)?,
                to: pid(1)?,
                reason: inline(3)?,
                link: op.as_i64() == Some(EXIT_TT),
            },
            PAYLOAD_EXIT | PAYLOAD_EXIT_TT | PAYLOAD_EXIT2 | PAYLOAD_EXIT2_TT => {
                let code = op.as_i64()?;
                Control::Exit {
                    from: pid(0)?,
                    to: pid(1)?,
                    reason: Reason::InPayload,
                    link: code == PAYLOAD_EXIT || code == PAYLOAD_EXIT_TT,
                }
            }
            UNLINK => Control::Unlink {
                from: pid(0)?,
                to: pid(1)?,
            },
            UNLINK_ID => Control::UnlinkId {
                id: rest.first()?.clone(),
                from: pid(1)?,
                to: pid(2)?,
            },
            UNLINK_ID_ACK => Control::UnlinkIdAck {
                id: rest.first()?.clone(),
                from: pid(1)?,
                to: pid(2)?,
            },
            MONITOR_P => Control::MonitorP {
                from: pid(0)?,
                to: ProcRef::from_term(rest.get(1)?)?,
                reference: reference(2)?,
            },
            DEMONITOR_P => Control::DemonitorP {
                from: pid(0)?,
                to: ProcRef::from_term(rest.get(1)?)?,
                reference: reference(2)?,
            },
            MONITOR_P_EXIT => Control::MonitorPExit {
                from: ProcRef::from_term(rest.first()?)?,
                to: pid(1)?,
                reference: reference(2)?,
                reason: inline(3)?,
            },
            PAYLOAD_MONITOR_P_EXIT => Control::MonitorPExit {
                from: ProcRef::from_term(rest.first()?)?,
                to: pid(1)?,
                reference: reference(2)?,
                reason: Reason::InPayload,
            },
            code @ (NODE_LINK | GROUP_LEADER) => Control::Ignored(code),
            _ => return None,
        })
    }

    /// The control tuple to send. Reasons are always sent inline, which every OTP release
    /// reads.
    pub(crate) fn to_term(&self) -> Term {
        let int = Term::Integer;
        let pid = |p: &ExternalPid| Term::Pid(p.clone());
        let reference = |r: &ExternalRef| Term::Ref(r.clone());
        let reason = |r: &Reason| match r {
            Reason::Inline(t) => t.clone(),
            Reason::InPayload => Term::atom("normal"),
        };
        match self {
            Control::Link { from, to } => Term::tuple([int(LINK), pid(from), pid(to)]),
            Control::Send {
                from: Some(from),
                to,
            } => Term::tuple([int(SEND_SENDER), pid(from), pid(to)]),
            Control::Send { from: None, to } => Term::tuple([int(SEND), Term::atom(""), pid(to)]),
            Control::RegSend { from, to } => Term::tuple([
                int(REG_SEND),
                pid(from),
                Term::atom(""),
                Term::Atom(to.clone()),
            ]),
            Control::AliasSend { from, alias } => {
                Term::tuple([int(ALIAS_SEND), pid(from), reference(alias)])
            }
            Control::Exit {
                from,
                to,
                reason: r,
                link,
            } => Term::tuple([
                int(if *link { EXIT } else { EXIT2 }),
                pid(from),
                pid(to),
                reason(r),
            ]),
            Control::Unlink { from, to } => Term::tuple([int(UNLINK), pid(from), pid(to)]),
            Control::UnlinkId { id, from, to } => {
                Term::tuple([int(UNLINK_ID), id.clone(), pid(from), pid(to)])
            }
            Control::UnlinkIdAck { id, from, to } => {
                Term::tuple([int(UNLINK_ID_ACK), id.clone(), pid(from), pid(to)])
            }
            Control::MonitorP {
                from,
                to,
                reference: r,
            } => Term::tuple([int(MONITOR_P), pid(from), to.to_term(), reference(r)]),
            Control::DemonitorP {
                from,
                to,
                reference: r,
            } => Term::tuple([int(DEMONITOR_P), pid(from), to.to_term(), reference(r)]),
            Control::MonitorPExit {
                from,
                to,
                reference: r,
                reason: why,
            } => Term::tuple([
                int(MONITOR_P_EXIT),
                from.to_term(),
                pid(to),
                reference(r),
                reason(why),
            ]),
            Control::Ignored(code) => Term::tuple([int(*code)]),
        }
    }
}
