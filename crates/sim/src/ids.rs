//! Typed indices, so a host can never be passed where a port is expected.

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            #[inline]
            pub fn idx(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// A flow, numbered from 0 in order of arrival.
    FlowId
);
id_type!(
    /// An end host, numbered from 0.
    HostId
);
id_type!(
    /// A network node: hosts first (node i is host i), then switches.
    NodeId
);
id_type!(
    /// An output port: a queue plus the link it drives.
    PortId
);
