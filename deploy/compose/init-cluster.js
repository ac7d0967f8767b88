// The init job of a rendered compose.yaml, run by mongosh (--nodb) in the one-shot `init` service.
// mongoshard fills in `plan` below (the cluster's layout, as JSON) when it renders compose.yaml.
// Every step checks first, so running it again changes nothing; mongosh exits non-zero on an uncaught error.
// Order (from the server source): the replica sets are initiated first, because a mongos does not listen
// until its config server replica set answers a majority read of config.version; only then is the router
// reached, with retries, to add the shards.
const plan = PLAN;
const fs = require('fs');
const key = plan.auth ? fs.readFileSync(plan.secrets.keyfile, 'utf8').replace(/\s/g, '') : null;
const password = plan.auth ? fs.readFileSync(plan.secrets.password, 'utf8').trim() : null;

// Retries `attempt` (once a second) until it returns something truthy, which it returns.
function until(what, attempt) {
  let last = 'no answer';
  for (let second = 0; second < plan.retrySeconds; second++) {
    try {
      const result = attempt();
      if (result) return result;
    } catch (error) {
      last = error.message;
    }
    sleep(1000);
  }
  throw new Error(what + ' did not succeed in ' + plan.retrySeconds + ' s: ' + last);
}

// The admin database of one server, logged in as the internal __system user (the keyfile's credentials),
// which needs no existing user and works from any host.
function open(host) {
  const connection = new Mongo('mongodb://' + host + '/?directConnection=true&serverSelectionTimeoutMS=2000');
  if (plan.auth) connection.getDB('local').auth({user: '__system', pwd: key, mechanism: 'SCRAM-SHA-256'});
  const admin = connection.getDB('admin');
  admin.runCommand({ping: 1});
  return admin;
}

function initiated(admin) {
  try {
    admin.runCommand({replSetGetStatus: 1});
    return true;
  } catch (error) {
    if (error.code === 94) return false; // NotYetInitialized
    throw error;
  }
}

for (const set of plan.replicaSets) {
  const admin = until('reach ' + set.hosts[0], () => open(set.hosts[0]));
  if (initiated(admin)) {
    print(set.name + ' is already initiated');
  } else {
    const members = set.hosts.map((host, i) => ({_id: i, host: host, priority: i === 0 ? 2 : 1}));
    const config = {_id: set.name, members: members};
    if (set.configsvr) config.configsvr = true;
    admin.runCommand({replSetInitiate: config});
    print('initiated ' + set.name);
  }
  until(set.name + ' primary', () => admin.runCommand({hello: 1}).isWritablePrimary);
  if (plan.auth) {
    if (admin.runCommand({usersInfo: 'admin'}).users.length === 0) {
      admin.runCommand({createUser: 'admin', pwd: password, roles: ['root']});
      print('created the admin user on ' + set.name);
    } else {
      print('the admin user exists on ' + set.name);
    }
  }
}

const additions = plan.shards.map((shard) => ({addShard: shard.connection, name: shard.name}));
for (const command of additions) print('to send through the router: ' + JSON.stringify(command));
print('waiting for the router ' + plan.router);
const router = until('reach the router ' + plan.router, () => open(plan.router));
for (const command of additions) {
  until('add ' + command.name, () => {
    const present = router.runCommand({listShards: 1}).shards.map((s) => s._id);
    if (present.includes(command.name)) {
      print(command.name + ' is already a shard');
      return true;
    }
    router.runCommand(command);
    print('added ' + command.name);
    return true;
  });
}
if (plan.configShard) {
  // 8.0+: the config server replica set holds data too; its shard is named "config".
  const present = router.runCommand({listShards: 1}).shards.map((s) => s._id);
  if (present.includes('config')) {
    print('the config server is already a config shard');
  } else {
    print('sending {"transitionFromDedicatedConfigServer":1}');
    router.runCommand({transitionFromDedicatedConfigServer: 1});
    print('the config server holds data now (a config shard)');
  }
}
print('cluster ready');
