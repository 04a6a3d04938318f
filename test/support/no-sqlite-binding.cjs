// Preload (`--require`) that makes the process look like better-sqlite3's install script never ran: loading its
// native binding fails exactly as it does when build/Release/better_sqlite3.node is absent.
const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) {
  if (String(filename).endsWith('better_sqlite3.node')) {
    const error = new Error(`${filename}: cannot open shared object file: No such file or directory`);
    error.code = 'ERR_DLOPEN_FAILED';
    throw error;
  }
  return dlopen.call(this, module, filename, ...rest);
};
