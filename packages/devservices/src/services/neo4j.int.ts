import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import neo4j from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../freePort';
import { ServiceStartError } from './managedProcess';
import { boltHandshake, startNeo4j, type RunningNeo4j } from './neo4j';

// The first run on a machine also fetches ~120 MB of jars with Maven.
const startTimeoutMs = 300_000;

describe('startNeo4j', () => {
  let workDir: string;
  let boltPort: number;
  let server: RunningNeo4j | undefined;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'neo4j-int-'));
    boltPort = await freePort();
    server = await startNeo4j({ boltPort, dataDir: join(workDir, 'home'), logFile: join(workDir, 'neo4j.log') });
  }, startTimeoutMs);

  afterAll(async () => {
    await server?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('speaks Bolt 5 on the loopback port it was given', async () => {
    expect(server?.boltUrl).toBe(`bolt://127.0.0.1:${boltPort}`);
    expect(await boltHandshake('127.0.0.1', boltPort)).toMatch(/^5\.\d+$/);
  });

  it('runs a Cypher query through neo4j-driver', async () => {
    // No auth token: authentication is off on the loopback test server.
    const driver = neo4j.driver(server!.boltUrl);
    try {
      const result = await driver.executeQuery('RETURN 1 AS one');
      expect(result.records[0]?.get('one').toNumber()).toBe(1);
    } finally {
      await driver.close();
    }
  });

  it('leaves nothing listening after stop()', async () => {
    await server!.stop();
    expect(server!.process.isRunning()).toBe(false);
    await expect(canConnect(boltPort)).resolves.toBe(false);
  });

  it(
    'rejects with a ServiceStartError naming the log file when the data dir is unusable',
    async () => {
      // A regular file where Neo4j wants its home folder.
      const notADir = join(workDir, 'not-a-dir');
      await writeFile(notADir, 'in the way');
      const logFile = join(workDir, 'broken-neo4j.log');
      const port = await freePort();
      const started = startNeo4j({ boltPort: port, dataDir: notADir, logFile, deadlineMs: 120_000 });
      await expect(started).rejects.toBeInstanceOf(ServiceStartError);
      await expect(started).rejects.toThrow(logFile);
      await expect(canConnect(port)).resolves.toBe(false);
    },
    startTimeoutMs,
  );
});

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
