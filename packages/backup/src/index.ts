export {
  BackupError,
  DEFAULT_SLOT,
  listBaseBackups,
  prepareRestore,
  startWalArchiver,
  takeBaseBackup,
  waitUntilPromoted,
  type BaseBackupRecord,
  type PreparedRestore,
  type WalArchiver,
} from './pointInTime';
