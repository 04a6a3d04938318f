// Another process holding a SQLite database's write lock, as a backup tool or an admin's sqlite3 shell in a
// transaction would: takes BEGIN EXCLUSIVE on the file named by argv[2], says 'locked' over IPC, and commits and
// exits when its parent sends any message.
const Database = require('better-sqlite3');

const db = new Database(process.argv[2]);
db.exec('BEGIN EXCLUSIVE');
process.send('locked');
process.once('message', () => {
  db.exec('COMMIT');
  db.close();
  process.exit(0);
});
