/** What both TUIs share: the terminal's size (following resizes) and drawing pre-fitted lines of styled spans. */
import { Box, Text, useStdout } from 'ink';
import { useCallback, useEffect, useState } from 'react';
import type { Line } from './screen-text.js';

export function useTerminalSize(fixed: { columns: number; rows: number } | undefined): {
  columns: number;
  rows: number;
} {
  const { stdout } = useStdout();
  const read = useCallback(
    () => fixed ?? { columns: stdout.columns || 80, rows: stdout.rows || 24 },
    [fixed, stdout],
  );
  const [size, setSize] = useState(read);
  useEffect(() => {
    if (fixed) return;
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [fixed, read, stdout]);
  return size;
}

export function Lines({ lines }: { lines: readonly Line[] }) {
  return (
    <Box flexDirection="column">
      {lines.map((line, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a screen line is its position
        <Text key={i} wrap="truncate">
          {line.map((span, j) => (
            <Text
              // biome-ignore lint/suspicious/noArrayIndexKey: spans of a line have no identity but their order
              key={j}
              {...(span.color ? { color: span.color } : {})}
              bold={span.bold ?? false}
              dimColor={span.dim ?? false}
              inverse={span.inverse ?? false}
            >
              {span.text}
            </Text>
          ))}
        </Text>
      ))}
    </Box>
  );
}
