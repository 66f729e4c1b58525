import assert from "node:assert/strict";
import {
  messageRates,
  parseMessageCounts,
} from "../../scripts/bench/etcd_observe.ts";
import { agentCounters } from "../../scripts/bench/agent.ts";

// As etcd 3.4 prints them (a zero series and a stream's messages included).
const metrics =
  `# HELP grpc_server_msg_received_total Total number of RPC stream messages received on the server.
# TYPE grpc_server_msg_received_total counter
grpc_server_msg_received_total{grpc_method="Alarm",grpc_service="etcdserverpb.Maintenance",grpc_type="unary"} 0
grpc_server_msg_received_total{grpc_method="LeaseKeepAlive",grpc_service="etcdserverpb.Lease",grpc_type="bidi_stream"} 120
grpc_server_msg_received_total{grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 7
grpc_server_handled_total{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 7
etcd_debugging_mvcc_put_total 7
`;

Deno.test("etcd's received messages are read per method, zero series left out", () => {
  assert.deepEqual(
    [...parseMessageCounts(metrics)],
    [["Lease/LeaseKeepAlive", 120], ["KV/Put", 7]],
  );
});

Deno.test("rates are per second between two readings, new methods included", () => {
  const before = new Map([["Lease/LeaseKeepAlive", 100]]);
  const after = new Map([["Lease/LeaseKeepAlive", 130], ["KV/Put", 5]]);
  assert.deepEqual(
    [...messageRates(before, after, 10)],
    [["Lease/LeaseKeepAlive", 3], ["KV/Put", 0.5]],
  );
});

Deno.test("the agent's login counters are summed by outcome, with the sessions that left it", () => {
  const text = `sshproxy_logins_total{outcome="proxied"} 18
sshproxy_logins_total{outcome="no_destination"} 0
sshproxy_agent_fallbacks_total 2
sshproxy_agent_abandoned_clients_total 4
sshproxy_agent_withdrawn_routes_total 1
sshproxy_sessions{service="default",destination="a:22"} 3
`;
  assert.deepEqual(agentCounters(text), {
    "logins proxied": 18,
    "logins no_destination": 0,
    fallbacks: 2,
    "left before asking": 4,
    "routes withdrawn": 1,
  });
});
