package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/privacykeeper/privacykeeper/shared/privacy"
)

// DecodeChange completes c, a stream record's change as the event adapter
// (shared/batch) read it (sequence number, source, removal, TTL expiry),
// from the record's key and images: what the item is, its mail due and
// status before and after, whether privacyctl replay touched it, whether
// it is the item's first write; for a processor's registry item (the ops
// table's PROC#), the change of the registration (c.Processor).
func DecodeChange(c privacy.Change, keys, oldImage, newImage map[string]types.AttributeValue) privacy.Change {
	c.PK, c.SK = s1(keys, attrPK), s1(keys, attrSK)
	c.OldMailDue = privacy.ParseMailDue(s1(oldImage, AttrMailDue))
	c.OldStatus = s1(oldImage, "status")
	c.Replayed = s1(newImage, AttrReplayedAt) != "" && s1(newImage, AttrReplayedAt) != s1(oldImage, AttrReplayedAt)
	c.Created = !c.Removed && oldImage == nil && newImage != nil
	if c.PK == ProcessorPrefix {
		// The ops table's stream: a change of the processors' registry.
		decodeProcessorChange(&c, oldImage, newImage)
		return c
	}
	if !c.Removed {
		decodeItem(&c, newImage)
	}
	return c
}

// decodeItem sets what c says of the item as it now is.
func decodeItem(c *privacy.Change, item map[string]types.AttributeValue) {
	c.Kind, c.Status = s1(item, "kind"), s1(item, "status")
	c.MailDue = privacy.ParseMailDue(s1(item, AttrMailDue))
	switch c.Kind {
	case KindInquiry:
		inq, err := DecodeInquiry(item)
		c.Inquiry, c.Err = &inq, err
	case KindSubscription:
		sub, err := DecodeSubscription(item)
		c.Subscription, c.Err = &sub, err
	case KindRequest:
		req, err := DecodeRequest(item)
		c.Request, c.Err = &req, err
	case KindNotice:
		n, err := DecodeNotice(item)
		c.Notice, c.Err = &n, err
	case KindContactNotice:
		n, err := decodeContactNotice(item)
		c.ContactNotice, c.Err = &n, err
	case KindDelivery:
		d, err := decodeDelivery(item)
		c.Delivery, c.Err = &d, err
	}
}
