#!/bin/sh
# Pacemaker configuration of the ChannelServiceX replica group on two nodes,
# with a redundant State Replicator pair on the same two nodes
# (pcs 0.11 / Pacemaker 2.1; with pcs 0.10 write Master/Slave for
# Promoted/Unpromoted). Run once, on one node, after
# scripts/install-ocf.sh on both and /etc/scf/channel-service-x.cfg and
# /etc/scf/replicator.cfg (see deploy/README.md) on each.
#
# Layout: replicator pair (one promoted) + member pair (one promoted); the
# replicator address (10.0.0.254) moves with the promoted replicator, the
# service address (10.0.0.100) with the promoted member. Members start only
# once a replicator is promoted (they register with it at start-up).
set -e

# The replicators: a promotable clone of scf-replicator. Each instance
# starts on standby, following the promoted one; the promoted one serves the
# replicator address. replicator.cfg sets
#   ChannelServiceXReplicator.Endpoints=tcp -h 0.0.0.0 -p 4061
#   ChannelServiceXReplicator.PublishedEndpoints=tcp -h 10.0.0.254 -p 4061
#   ChannelServiceXReplicator.StateReplicatorName=ChannelServiceXStateReplicator:tcp -h 10.0.0.254 -p 4061
#   ChannelServiceXReplicator.DataDir=/var/lib/scf/replicator
#   ReplicatorManagement.Endpoints=tcp -h <this node's own address> -p 4062
pcs resource create scf-replicator ocf:asterisk-scf:scf-replica \
    binary=/usr/local/bin/scf-replicator \
    ctl=/usr/local/bin/replica-ctl \
    adapter=ChannelServiceXReplicator \
    config=/etc/scf/replicator.cfg \
    ctl_timeout=3000 \
    op start timeout=30s \
    op stop timeout=30s \
    op promote timeout=20s \
    op demote timeout=20s \
    op monitor interval=5s timeout=20s role=Unpromoted \
    op monitor interval=4s timeout=20s role=Promoted \
    promotable promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1

# The replicator address, with the promoted replicator, once it is promoted
# (it listens on 0.0.0.0 from its promotion on, so it serves the moment
# the address arrives).
pcs resource create scf-replicator-ip ocf:heartbeat:IPaddr2 \
    ip=10.0.0.254 cidr_netmask=24 nic=eth0 \
    op monitor interval=10s
pcs constraint colocation add scf-replicator-ip with Promoted scf-replicator-clone INFINITY
pcs constraint order promote scf-replicator-clone then start scf-replicator-ip

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

# Members register with the promoted replicator at start-up.
pcs constraint order promote scf-replicator-clone then start scf-channel-clone
