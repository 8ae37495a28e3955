// The flood of the memory-flood test, in its own process so that encrypting it does not delay the test's own
// measurements: `node flood-client.ts <port> <ca file> <concurrency>` prints the answers as JSON.
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildMaximumSizeReview, postReview, type Answer } from '../../helpers/flood.ts';

const [port, caFile, concurrency] = [Number(process.argv[2]), process.argv[3]!, Number(process.argv[4])];
const ca = readFileSync(caFile, 'utf8');
const big = buildMaximumSizeReview();
const started = Date.now();
const firstTries: Answer[] = [];
// Each client keeps its connection alive and retries a 429/503 after Retry-After, 5 tries in all, as the API
// server's webhook client does (webhook.DefaultShouldRetry with 5 backoff steps).
const finals = await Promise.all(
  Array.from({ length: concurrency }, async (_, i) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let answer: Answer = { status: 'error', error: 'not sent', ms: 0 };
    for (let attempt = 0; attempt < 5; attempt++) {
      answer = await postReview(port, ca, big, 30_000, agent);
      if (attempt === 0) firstTries[i] = answer;
      if (answer.status !== 429 && answer.status !== 503 && answer.status !== 'error') break;
      await sleep(Number(answer.status === 'error' ? 1 : (answer.retryAfter ?? 1)) * 1000);
    }
    agent.destroy();
    return answer;
  }),
);
process.stdout.write(JSON.stringify({ bodyBytes: big.length, floodMs: Date.now() - started, firstTries, finals }));
