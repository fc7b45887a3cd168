import Foundation
import Intake

// Writes COUNT unique, validly signed Stripe deliveries for wrk to replay, one per line:
// <Stripe-Signature header>\t<JSON body>. Usage: bench-requests SECRET COUNT OUTPUT
let arguments = CommandLine.arguments
guard arguments.count == 4, let count = Int(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: bench-requests SECRET COUNT OUTPUT\n".utf8))
    exit(2)
}
let secret = arguments[1]
let timestamp = Int64(Date().timeIntervalSince1970)
let run = UUID().uuidString.prefix(8)
guard let output = FileHandle(forWritingAtPath: arguments[3]) ?? {
    _ = FileManager.default.createFile(atPath: arguments[3], contents: nil)
    return FileHandle(forWritingAtPath: arguments[3])
}() else { exit(1) }
var buffer = Data()
for index in 0..<count {
    // A realistic checkout.session.completed event (about 1.1 KB), unique id per request.
    let id = "evt_bench_\(run)_\(index)"
    let body = """
    {"id":"\(id)","object":"event","api_version":"2024-06-20","created":\(timestamp),"livemode":false,\
    "pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"checkout.session.completed",\
    "data":{"object":{"id":"cs_test_\(run)\(index)","object":"checkout.session","after_expiration":null,\
    "allow_promotion_codes":false,"amount_subtotal":4900,"amount_total":4900,"billing_address_collection":"auto",\
    "client_reference_id":"lead_\(index)","currency":"usd","customer":"cus_\(run)\(index)",\
    "customer_creation":"if_required","customer_details":{"address":{"city":null,"country":"US","line1":null,\
    "line2":null,"postal_code":"94107","state":null},"email":"lead\(index)@example.com","name":"Lead \(index)",\
    "phone":null,"tax_exempt":"none","tax_ids":[]},"expires_at":\(timestamp + 86400),"livemode":false,\
    "locale":null,"metadata":{"hookyard_email":"lead\(index)@example.com","campaign_id":"c-42"},"mode":"payment",\
    "payment_intent":"pi_\(run)\(index)","payment_link":"plink_\(run)","payment_method_types":["card"],\
    "payment_status":"paid","status":"complete","submit_type":"auto","subscription":null,"success_url":null,\
    "total_details":{"amount_discount":0,"amount_shipping":0,"amount_tax":0},"url":null}}}
    """
    let header = StripeSignatureVerifier.header(for: Array(body.utf8), secret: secret, timestamp: timestamp)
    buffer.append(contentsOf: Array("\(header)\t\(body)\n".utf8))
    if buffer.count > 1 << 20 {
        output.write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
output.write(buffer)
try? output.close()
