// The init job of a rendered compose.yaml: run by mongosh (--nodb) in the one-shot `init` service.
// mongoshard fills in `plan` below (the cluster's layout, as JSON) when it renders compose.yaml.
// It checks before every step, so running it again changes nothing; mongosh throws on a failed command.
// No dollar sign anywhere in this file: compose would interpolate it.
const plan = PLAN;
const fs = require('fs');
const key = plan.auth ? fs.readFileSync('/run/secrets/keyfile', 'utf8').replace(/\s/g, '') : null;
const password = plan.auth ? fs.readFileSync('/run/secrets/admin_password', 'utf8').trim() : null;
function open(host) {
  const connection = new Mongo('mongodb://' + host + '/?directConnection=true');
  if (plan.auth) connection.getDB('local').auth({user: '__system', pwd: key, mechanism: 'SCRAM-SHA-256'});
  return connection.getDB('admin');
}
function until(what, attempt) {
  for (let tries = 0; tries < 120; tries++) {
    try { if (attempt()) return; } catch (error) { print(what + ': ' + error.message); }
    sleep(1000);
  }
  throw new Error(what + ' did not succeed in 120 s');
}
function initiated(admin) {
  try { admin.runCommand({replSetGetStatus: 1}); return true; }
  catch (error) { if (error.code === 94) return false; throw error; }
}
for (const set of plan.replicaSets) {
  const admin = open(set.hosts[0]);
  if (!initiated(admin)) {
    const members = set.hosts.map((host, i) => ({_id: i, host: host, priority: i === 0 ? 2 : 1}));
    const config = {_id: set.name, members: members};
    if (set.configsvr) config.configsvr = true;
    admin.runCommand({replSetInitiate: config});
    print('initiated ' + set.name);
  } else {
    print(set.name + ' is already initiated');
  }
  until(set.name + ' primary', () => admin.runCommand({hello: 1}).isWritablePrimary);
  if (plan.auth && admin.runCommand({usersInfo: 'admin'}).users.length === 0) {
    admin.createUser({user: 'admin', pwd: password, roles: ['root']});
    print('created the admin user on ' + set.name);
  }
}
const router = open(plan.router);
for (const shard of plan.shards) {
  until('add ' + shard.name, () => {
    const present = router.runCommand({listShards: 1}).shards.map((s) => s._id);
    if (present.includes(shard.name)) { print(shard.name + ' is already a shard'); return true; }
    const reply = router.runCommand({addShard: shard.connection, name: shard.name});
    print('addShard ' + shard.name + ': ' + (reply.ok ? 'added' : reply.errmsg));
    return reply.ok;
  });
}
print('cluster ready');
