#!/bin/sh
# Pacemaker configuration of the ChannelServiceX replica group on two nodes
# (pcs 0.11 / Pacemaker 2.1; with pcs 0.10 write Master/Slave for
# Promoted/Unpromoted). Run once, on one node, after
# scripts/install-ocf.sh on both and /etc/scf/channel-service-x.cfg (see
# deploy/icegrid/node1.cfg and node2.cfg) on each.
set -e

# The member: a promotable clone, one instance per node, one promoted.
pcs resource create scf-channel ocf:asterisk-scf:scf-replica \
    binary=/usr/local/bin/channel-service-x \
    ctl=/usr/local/bin/replica-ctl \
    config=/etc/scf/channel-service-x.cfg \
    ctl_timeout=3000 \
    op start timeout=30s \
    op stop timeout=30s \
    op promote timeout=20s \
    op demote timeout=20s \
    op monitor interval=10s timeout=20s role=Unpromoted \
    op monitor interval=9s timeout=20s role=Promoted \
    promotable promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1

# The shared service address, on the node whose member is promoted, and
# only once it is promoted (IPaddr2 sends the gratuitous ARP).
pcs resource create scf-service-ip ocf:heartbeat:IPaddr2 \
    ip=10.0.0.100 cidr_netmask=24 nic=eth0 \
    op monitor interval=10s
pcs constraint colocation add scf-service-ip with Promoted scf-channel-clone INFINITY
pcs constraint order promote scf-channel-clone then start scf-service-ip
