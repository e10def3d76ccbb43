import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { BUNDLED_MODEL, DEFAULT_WEB_ROOT, startServer } from '../../web/server.js';
import { intOption } from '../options.js';

interface ServeCliOptions {
  /** A folder, or false for --no-model. */
  model?: string | false;
  port: number;
  root?: string;
  open?: boolean;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('Serve the otsr web page (upscale and train in the browser) on 127.0.0.1 and print its URL')
    .option('-m, --model <dir>', 'model folder to offer to the page (default: the bundled models/unpaired-x4, if present)')
    .option('--no-model', 'offer no model (bicubic, or a model folder picked in the page)')
    .option('-p, --port <n>', 'TCP port on 127.0.0.1; 0 picks a free one', intOption('--port', 0, 65535), 8700)
    .option('--root <dir>', 'serve another build of the page (default: the package\'s dist-web, made by npm run build:web)')
    .action(async (opts: ServeCliOptions) => {
      let model: string | undefined;
      if (typeof opts.model === 'string') model = opts.model;
      else if (opts.model !== false && (await stat(path.join(BUNDLED_MODEL, 'model.json')).catch(() => undefined))) model = BUNDLED_MODEL;
      const server = await startServer({ root: opts.root ?? DEFAULT_WEB_ROOT, model, port: opts.port });
      const what = server.model ? `model ${server.model.dir}` : 'no model (bicubic or a picked model folder)';
      process.stdout.write(`otsr: serving the page at ${server.url} with ${what}; press Ctrl+C to stop\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
