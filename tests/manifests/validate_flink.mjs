// Validate FlinkDeployment documents against the Flink Kubernetes Operator's CRD schema, as
// generated into @kubernetes-models/flink. Usage: node validate_flink.mjs FILE.yaml (or - for stdin).
// Prints one line per invalid document and exits 1 if any is invalid.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { FlinkDeployment } from "@kubernetes-models/flink/flink.apache.org/v1beta1/FlinkDeployment";

const source = readFileSync(process.argv[2] === "-" ? 0 : process.argv[2], "utf8");
let invalid = 0;
let checked = 0;
for (const doc of parseAllDocuments(source)) {
  const data = doc.toJS();
  if (!data || data.kind !== "FlinkDeployment") continue;
  checked++;
  try {
    new FlinkDeployment(data).validate();
  } catch (error) {
    invalid++;
    console.log(`${data.metadata?.name}: ${error.message}`);
  }
}
console.log(`${checked} FlinkDeployment(s) checked, ${invalid} invalid`);
process.exit(invalid || !checked ? 1 : 0);
