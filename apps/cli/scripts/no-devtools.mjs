// Stand-in for react-devtools-core in the TUI bundle: Ink imports it only under DEV=true, which the CLI never sets.
export default { initialize() {}, connectToDevTools() {} };
