//! PLACEHOLDER until the netfilter helper lands.
