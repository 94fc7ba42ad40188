//! Derive and attribute macros that declare ferrotp GenServers (see issue #6).
