import { exitWith, finiteNumber, portNumber, wholeNumber, type AddCommand } from '../command';
import { EXIT } from '../exit-codes';
import { runSimulator, type SimulateFlags } from '../simulate';

export const addSimulateCommand: AddCommand = (program) => {
  program
    .command('simulate')
    .description('Serve a simulated OpenAI-compatible model (not a real model) that knows the benchmark.')
    .requiredOption('--benchmark <dir>', 'a tasks.jsonl folder or a Harbor dataset')
    .option('--limit <n>', 'only the first n tasks', wholeNumber)
    .option('--host <address>', 'the address to listen on (another machine\'s workers need one other than loopback)', '127.0.0.1')
    .option('--port <port>', 'the port to listen on', portNumber, 8000)
    .option('--p-correct <p>', 'the chance of a right answer', finiteNumber, 0.7)
    .option('--seed <n>', 'the seed of its answers', finiteNumber, 0)
    .option('--latency-ms <ms>', 'the time each answer takes', finiteNumber, 20)
    .option('--rate-429 <r>', 'share of requests answered 429', finiteNumber)
    .option('--retry-after-s <s>', 'the Retry-After of a 429', finiteNumber)
    .option('--rate-500 <r>', 'share of requests answered 500', finiteNumber)
    .option('--rate-hang <r>', 'share of requests never answered', finiteNumber)
    .option('--rate-malformed <r>', 'share of requests answered with malformed JSON', finiteNumber)
    .option('--rate-reset <r>', 'share of connections reset', finiteNumber)
    .action(
      exitWith(async (flags: SimulateFlags) => {
        await runSimulator(flags);
        return EXIT.ok;
      }),
    );
};
