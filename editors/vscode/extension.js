// Starts `cnndsl lsp` (or the command in the setting cnndsl.server.command) for .cnn files.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("cnndsl").get("server.command", ["cnndsl", "lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient(
    "cnndsl",
    "cnndsl language server",
    { run: server, debug: server },
    { documentSelector: [{ language: "cnn" }] }
  );
  context.subscriptions.push(client);
  return client.start().catch((error) => {
    vscode.window.showErrorMessage(
      `cnndsl: could not start \`${command} ${args.join(" ")}\` (${error.message}); ` +
        "install it with pip install 'cnndsl[lsp]' or set cnndsl.server.command"
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
