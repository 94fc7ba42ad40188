//! Hot code upgrades of ferrotp actor modules loaded from dynamic libraries (see issue #7).
