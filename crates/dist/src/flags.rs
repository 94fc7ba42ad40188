//! Distribution flags: the capabilities two nodes announce in their handshake.
//!
//! Values from OTP's `lib/kernel/include/dist.hrl`. A connection uses what both sides set;
//! a peer that lacks one of the flags OTP 25 made mandatory is refused.

use std::fmt;

/// A set of `DFLAG_*` capabilities.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DistFlags(u64);

macro_rules! flags {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        impl DistFlags {
            $($(#[$doc])* pub const $name: DistFlags = DistFlags($value);)*
        }
        const NAMES: &[(&str, u64)] = &[$((stringify!($name), $value)),*];
    };
}

flags! {
    /// The node is published: visible in `nodes()` and to `global`. Not set by a hidden node.
    PUBLISHED = 0x1;
    /// The old atom cache (never used since OTP R12).
    ATOM_CACHE = 0x2;
    /// References of up to 5 words.
    EXTENDED_REFERENCES = 0x4;
    /// Remote process monitors.
    DIST_MONITOR = 0x8;
    /// Fun tags.
    FUN_TAGS = 0x10;
    /// Monitors of registered names on the remote node.
    DIST_MONITOR_NAME = 0x20;
    /// The atom cache for hidden nodes.
    HIDDEN_ATOM_CACHE = 0x40;
    /// `NEW_FUN_EXT`.
    NEW_FUN_TAGS = 0x80;
    /// `NEW_PID_EXT`-era pids and ports.
    EXTENDED_PIDS_PORTS = 0x100;
    /// `EXPORT_EXT`.
    EXPORT_PTR_TAG = 0x200;
    /// `BIT_BINARY_EXT`.
    BIT_BINARIES = 0x400;
    /// `NEW_FLOAT_EXT`.
    NEW_FLOATS = 0x800;
    /// Unicode I/O.
    UNICODE_IO = 0x1000;
    /// The distribution header with an atom cache.
    DIST_HDR_ATOM_CACHE = 0x2000;
    /// `SMALL_ATOM_EXT`.
    SMALL_ATOM_TAGS = 0x4000;
    /// UTF-8 atoms.
    UTF8_ATOMS = 0x10000;
    /// `MAP_EXT`.
    MAP_TAG = 0x20000;
    /// 32-bit creations.
    BIG_CREATION = 0x40000;
    /// `SEND_SENDER` control messages.
    SEND_SENDER = 0x80000;
    /// Large sequential trace labels.
    BIG_SEQTRACE_LABELS = 0x100000;
    /// Exit reasons as a payload after the control message (`PAYLOAD_EXIT` and friends).
    EXIT_PAYLOAD = 0x400000;
    /// Fragmented messages.
    FRAGMENTS = 0x800000;
    /// The OTP 23 handshake (`N` messages, version 6).
    HANDSHAKE_23 = 0x1000000;
    /// `UNLINK_ID` and `UNLINK_ID_ACK`: the unlink protocol of OTP 23+.
    UNLINK_ID = 0x2000000;
    /// The set OTP 25 made mandatory, as a flag.
    MANDATORY_25_DIGEST = 0x4000000;
    /// Remote `spawn_request`.
    SPAWN = 1 << 32;
    /// Dynamic node names.
    NAME_ME = 1 << 33;
    /// 64-bit pid and port numbers, references of up to 5 words.
    V4_NC = 1 << 34;
    /// Process aliases (`ALIAS_SEND`).
    ALIAS = 1 << 35;
}

impl DistFlags {
    /// The flags OTP 25 requires of every peer (`DFLAG_DIST_MANDATORY_25`).
    pub const MANDATORY_25: DistFlags = DistFlags(
        Self::EXTENDED_REFERENCES.0
            | Self::FUN_TAGS.0
            | Self::EXTENDED_PIDS_PORTS.0
            | Self::UTF8_ATOMS.0
            | Self::NEW_FUN_TAGS.0
            | Self::BIG_CREATION.0
            | Self::NEW_FLOATS.0
            | Self::MAP_TAG.0
            | Self::EXPORT_PTR_TAG.0
            | Self::BIT_BINARIES.0
            | Self::HANDSHAKE_23.0,
    );

    /// What OTP 26 adds to the mandatory set.
    pub const MANDATORY_26: DistFlags =
        DistFlags(Self::MANDATORY_25.0 | Self::V4_NC.0 | Self::UNLINK_ID.0);

    /// What a ferrotp node announces: OTP 26's mandatory set, monitors (of pids and of names),
    /// exit payloads, aliases and sender-carrying sends. Not the atom cache and not fragments:
    /// every message is sent, and must be received, whole (see the crate's back-pressure
    /// notes). Not `PUBLISHED`: ferrotp runs as a hidden node, as it does not answer `global`
    /// and `rex`.
    pub const OURS: DistFlags = DistFlags(
        Self::MANDATORY_26.0
            | Self::DIST_MONITOR.0
            | Self::DIST_MONITOR_NAME.0
            | Self::SMALL_ATOM_TAGS.0
            | Self::UNICODE_IO.0
            | Self::EXIT_PAYLOAD.0
            | Self::SEND_SENDER.0
            | Self::BIG_SEQTRACE_LABELS.0
            | Self::MANDATORY_25_DIGEST.0
            | Self::ALIAS.0,
    );

    /// Flags from their wire value.
    pub const fn from_bits(bits: u64) -> DistFlags {
        DistFlags(bits)
    }

    /// The wire value.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether every flag of `other` is set here.
    pub const fn contains(self, other: DistFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags set in both.
    pub const fn intersection(self, other: DistFlags) -> DistFlags {
        DistFlags(self.0 & other.0)
    }

    /// The flags of `other` not set here.
    pub const fn missing(self, other: DistFlags) -> DistFlags {
        DistFlags(other.0 & !self.0)
    }
}

impl std::ops::BitOr for DistFlags {
    type Output = DistFlags;
    fn bitor(self, rhs: DistFlags) -> DistFlags {
        DistFlags(self.0 | rhs.0)
    }
}

impl fmt::Debug for DistFlags {
    /// The names of the flags set, and the bits with no name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        let mut set = f.debug_set();
        for (name, value) in NAMES {
            if self.0 & value == *value && *value != 0 {
                set.entry(&format_args!("{name}"));
                rest &= !value;
            }
        }
        if rest != 0 {
            set.entry(&format_args!("{rest:#x}"));
        }
        set.finish()
    }
}
