use super::*;
impl EthernetFrame {
    pub fn buffer_len(&self) -> usize {
        14 + match &self.payload {
            EtherPayload::Arp(_) => 28,
            EtherPayload::Ipv4(p) => p.buffer_len(),
        }
    }
}
impl Ipv4Packet {
    pub fn buffer_len(&self) -> usize {
        20 + match &self.payload {
            IpPayload::Icmp(
                IcmpRepr::EchoRequest { data, .. } | IcmpRepr::EchoReply { data, .. },
            ) => 8 + data.len(),
            IpPayload::Icmp(_) => 36,
            IpPayload::Udp(_) => 8 + 40,
            IpPayload::Tcp(t) => 20 + t.payload.len(),
        }
    }
}
impl std::fmt::Display for EthernetFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.payload)
    }
}
